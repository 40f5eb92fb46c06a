//! The wasmtime engine shared by every run: its configuration, the epoch ticker
//! that drives wall-clock deadlines, and the compiled-component cache.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime_wasi::p2::bindings::CommandPre;

use super::compile_cache;
use crate::state::State;
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
    /// Components linked and type-checked once, by file identity: a fleet
    /// starting many instances of one component (and every restart) skips
    /// loading, linking and import checks.
    prepared: Arc<Mutex<HashMap<String, CommandPre<State>>>>,
    /// Say on stderr when a component is compiled (a first run can take seconds).
    progress: bool,
    /// Size budget of the compile cache ([`compile_cache::cache_budget`]).
    cache_budget: u64,
}

/// Most linked components kept ([`Runtime::command_pre`]); past it the cache
/// starts over (a component rebuilt in place gets a new identity, so a
/// long-lived host would otherwise keep every old build).
pub const MAX_PREPARED_COMPONENTS: usize = 64;

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
        let cache_budget = compile_cache::cache_budget()?;
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
        Ok(Runtime {
            engine,
            config,
            prepared: Arc::default(),
            progress: false,
            cache_budget,
        })
    }

    /// With `on`, a compilation is announced on stderr with one line
    /// (`sandnet: compiling app.wasm (17.6 MB; first run, cached afterwards)…`);
    /// the CLI turns it on when stderr is a terminal.
    #[must_use]
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The component at `path`, loaded (see [`Runtime::load`]), linked and
    /// type-checked against this host's imports, ready to instantiate into
    /// any store; reused while the file keeps its identity.
    pub(super) fn command_pre(&self, path: &Path) -> anyhow::Result<CommandPre<State>> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read component {}", path.display()))?;
        let key = self.cache_key(path, &meta);
        let lock = |m: &Mutex<HashMap<String, CommandPre<State>>>| {
            m.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&key)
                .cloned()
        };
        if let Some(pre) = lock(&self.prepared) {
            return Ok(pre);
        }
        let component = self.load(path)?;
        let linker = self.linker(&component)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .and_then(|pre| CommandPre::new(pre).map_err(anyhow::Error::from))
            .with_context(|| {
                format!(
                    "{} cannot run here: it must export wasi:cli/run and import only what sandnet provides (`sandnet wit` prints it)",
                    path.display()
                )
            })?;
        let mut prepared = self
            .prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if prepared.len() >= MAX_PREPARED_COMPONENTS {
            prepared.clear();
        }
        prepared.insert(key, pre.clone());
        Ok(pre)
    }

    /// Loads a component, from the compile cache when possible.
    ///
    /// A cached run reads only the component's metadata, not its bytes: the
    /// entry is named by the file's identity and change time (see
    /// [`Runtime::cache_key`]); hashing a 17.6 MB component cost more than the
    /// rest of a cached start (docs/benchmarks.md).
    pub fn load(&self, path: &Path) -> anyhow::Result<Component> {
        let Some(dir) = &self.config.cache_dir else {
            return self.compile(path, &read_component(path)?);
        };
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read component {}", path.display()))?;
        let cached = dir.join(format!("{}.cwasm", self.cache_key(path, &meta)));
        if cached.exists() {
            match compile_cache::read_entry(&self.engine, &cached) {
                Ok(component) => return Ok(component),
                Err(err) => {
                    tracing::warn!(path = %cached.display(), %err, "ignoring unusable cache entry")
                }
            }
        }
        let component = self.compile(path, &read_component(path)?)?;
        if let Err(err) = compile_cache::write_entry(dir, &cached, &component, self.cache_budget) {
            tracing::warn!(dir = %dir.display(), %err, "cannot write the compile cache");
        }
        Ok(component)
    }

    fn compile(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<Component> {
        if let Some(problem) = not_a_component(bytes) {
            bail!("{} {problem}", path.display());
        }
        if self.progress {
            let name = path
                .file_name()
                .unwrap_or(path.as_os_str())
                .to_string_lossy();
            let cached = if self.config.cache_dir.is_some() {
                "first run, cached afterwards"
            } else {
                "--no-cache"
            };
            eprintln!(
                "sandnet: compiling {name} ({:.1} MB; {cached})…",
                bytes.len() as f64 / 1e6
            );
        }
        Component::new(&self.engine, bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{} is not a valid WebAssembly component", path.display()))
    }

    /// The cache entry's name: SHA-256 of the engine's compatibility hash,
    /// sandnet's version, and the component file's identity (device, inode,
    /// canonical path) and size, modification and change times (nanoseconds).
    /// Any write to the file, a replacement (new inode) or a `touch` changes
    /// the change time, which no user can set back, so an entry never stands
    /// for other bytes than those it was compiled from.
    fn cache_key(&self, path: &Path, meta: &std::fs::Metadata) -> String {
        use std::os::unix::fs::MetadataExt;
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let mut sha = Sha256::new();
        sha.update(engine_hash.finish().to_le_bytes());
        sha.update(env!("CARGO_PKG_VERSION").as_bytes());
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        sha.update(canonical.as_os_str().as_encoded_bytes());
        sha.update([0]);
        for field in [
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime().cast_unsigned(),
            meta.mtime_nsec().cast_unsigned(),
            meta.ctime().cast_unsigned(),
            meta.ctime_nsec().cast_unsigned(),
        ] {
            sha.update(field.to_le_bytes());
        }
        hex::encode(sha.finalize())
    }
}

/// Why `bytes` cannot be a component at all, with the fix, judged from the
/// 8-byte header: not WebAssembly, or a core module rather than a component.
fn not_a_component(bytes: &[u8]) -> Option<String> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_MODULE: [u8; 4] = [1, 0, 0, 0];
    if !bytes.starts_with(MAGIC) {
        let start: String = bytes
            .iter()
            .take(4)
            .map(|b| std::ascii::escape_default(*b).to_string())
            .collect();
        return Some(format!(
            "is not a WebAssembly file (it starts with \"{start}\", not \"\\0asm\"); build a component with the command `sandnet new` prints"
        ));
    }
    if bytes.get(4..8) == Some(&CORE_MODULE[..]) {
        return Some(
            "is a core WebAssembly module, not a component; build for wasm32-wasip2 (Rust: cargo build --target wasm32-wasip2) or wrap it with `wasm-tools component new`".to_owned(),
        );
    }
    None
}

fn read_component(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read component {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::not_a_component;

    #[test]
    fn headers_that_cannot_be_components_are_named() {
        let text = not_a_component(b"hello world").unwrap_or_default();
        assert!(
            text.starts_with("is not a WebAssembly file (it starts with \"hell\""),
            "{text}"
        );
        let core = not_a_component(b"\0asm\x01\0\0\0").unwrap_or_default();
        assert!(
            core.starts_with("is a core WebAssembly module, not a component"),
            "{core}"
        );
        assert_eq!(not_a_component(b"\0asm\x0d\0\x01\0"), None);
    }
}
