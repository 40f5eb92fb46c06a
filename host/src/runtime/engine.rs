//! The wasmtime engine shared by every run: its configuration, the epoch ticker
//! that drives wall-clock deadlines, and the compiled-component cache.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// How often the epoch advances; the wall-clock deadline is checked at this grain.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Runtime-wide settings.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

/// The wasmtime engine and compile cache, shared by every guest run.
#[derive(Clone)]
pub struct Runtime {
    pub(super) engine: Engine,
    config: RuntimeConfig,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with its own engine. Starts the epoch ticker thread, which ends
    /// when the last clone of the runtime is dropped.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&wasm)
            .map_err(anyhow::Error::from)
            .context("cannot configure wasmtime")?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("sandnet-epoch".to_owned())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .context("cannot start the epoch thread")?;
        Ok(Runtime { engine, config })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads a component, from the compile cache when possible.
    pub fn load(&self, path: &Path) -> anyhow::Result<Component> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read component {}", path.display()))?;
        let Some(dir) = &self.config.cache_dir else {
            return self.compile(path, &bytes);
        };
        let cached = dir.join(format!("{}.cwasm", self.cache_key(&bytes)));
        if cached.exists() {
            match deserialize_cached(&self.engine, &cached) {
                Ok(component) => return Ok(component),
                Err(err) => {
                    tracing::warn!(path = %cached.display(), %err, "ignoring unusable cache entry")
                }
            }
        }
        let component = self.compile(path, &bytes)?;
        if let Err(err) = store_cached(dir, &cached, &component) {
            tracing::warn!(dir = %dir.display(), %err, "cannot write the compile cache");
        }
        Ok(component)
    }

    fn compile(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<Component> {
        Component::new(&self.engine, bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{} is not a valid WebAssembly component", path.display()))
    }

    fn cache_key(&self, bytes: &[u8]) -> String {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let mut sha = Sha256::new();
        sha.update(engine_hash.finish().to_le_bytes());
        sha.update(env!("CARGO_PKG_VERSION").as_bytes());
        sha.update(bytes);
        hex::encode(sha.finalize())
    }
}

/// Loads a component this runtime serialised earlier.
#[allow(
    unsafe_code,
    reason = "deserialising our own cache entry; see SAFETY below"
)]
fn deserialize_cached(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    // SAFETY: wasmtime requires the file to be a component serialised by a
    // compatible engine and not tampered with. The cache directory is created
    // by `default_cache_dir` with mode 0700, entries are written atomically by
    // `store_cached`, and the file name includes the engine's compatibility hash.
    let component =
        unsafe { Component::deserialize_file(engine, path) }.map_err(anyhow::Error::from)?;
    Ok(component)
}

fn store_cached(dir: &Path, path: &Path, component: &Component) -> anyhow::Result<()> {
    create_private_dir(dir)?;
    let bytes = component.serialize().map_err(anyhow::Error::from)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o022 != 0 {
        bail!(
            "cache directory {} is writable by others (mode {mode:o}); refusing to use it",
            dir.display()
        );
    }
    Ok(())
}

/// `$SANDNET_CACHE_DIR`, else `$XDG_CACHE_HOME/sandnet`, else `~/.cache/sandnet`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SANDNET_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("sandnet"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("sandnet"))
}
