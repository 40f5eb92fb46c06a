//! `sandnet new`: writes a guest project in Rust, Python, JavaScript or C that
//! builds to a component with one command and comes with a starter policy.
//!
//! Every project holds the `sandnet:net` WIT (`wit/`, the same files as
//! `sandnet wit --out`), a `policy.toml` granting one loopback URL, and a
//! starter guest that GETs the URL it is given. The language helpers (the
//! Python, JavaScript and C wrappers) are embedded from `guests/` so a
//! scaffold cannot drift from the example guests the tests run.

use std::fmt;
use std::path::{Path, PathBuf};

/// The URL the starter policy grants and the printed run command fetches.
pub const STARTER_URL: &str = "http://127.0.0.1:8080/";

/// The languages `sandnet new` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust on wasm32-wasip2 with wit-bindgen 0.63.
    Rust,
    /// Python with componentize-py 0.25.1.
    Python,
    /// JavaScript with componentize-js 0.23.0.
    Js,
    /// C with clang, wasi-libc, `wit-bindgen c` and the preview1 adapter.
    C,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
        })
    }
}

/// Why a project could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The directory's name is not usable as a guest, crate and file name.
    #[error(
        "{name:?} is not a usable guest name: use lowercase ASCII letters, digits, '-' and '_', \
         starting with a letter (e.g. `sandnet new --lang rust my-guest`)"
    )]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// The target directory exists and is not empty.
    #[error("{} already exists and is not empty: pick another name or remove it", .dir.display())]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// Writing a file failed.
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What [`create`] wrote and how to build and run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The project directory.
    pub dir: PathBuf,
    /// The guest's name (the directory's name).
    pub name: String,
    /// Every file written, relative to `dir`.
    pub files: Vec<PathBuf>,
    /// The one command that builds the component, run inside `dir`.
    pub build: String,
    /// Where that command puts the component, relative to `dir`.
    pub component: PathBuf,
}

/// One template file: its path in the project and its text (`{{name}}` is
/// replaced by the guest's name). `executable` marks build scripts.
struct Template {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> Template {
    Template {
        path,
        text,
        executable: false,
    }
}

const fn script(path: &'static str, text: &'static str) -> Template {
    Template {
        path,
        text,
        executable: true,
    }
}

/// Where the Rust guest library sits in a project.
const RUST_LIBRARY: &str = "sandnet-guest/";

/// The WIT directory as the Rust guest library's `generate!` names it in the
/// repo (`guests/rust/sandnet-guest` → `wit/`), and as a project needs it
/// (`sandnet-guest/` → `wit/`).
const REPO_WIT_PATH: &str = "\"../../../wit\"";
const PROJECT_WIT_PATH: &str = "\"../wit\"";

/// A file of the Rust guest library: `guests/rust/sandnet-guest/PATH` in the
/// repo, `sandnet-guest/PATH` in the project.
macro_rules! rust_lib_file {
    ($path:literal) => {
        file(
            concat!("sandnet-guest/", $path),
            include_str!(concat!("../../guests/rust/sandnet-guest/", $path)),
        )
    };
}

const RUST: [Template; 24] = [
    file("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
    file("src/main.rs", include_str!("../templates/rust/main.rs")),
    file(
        "sandnet-guest/Cargo.toml",
        include_str!("../templates/rust/sandnet-guest.toml"),
    ),
    rust_lib_file!("src/bindings.rs"),
    rust_lib_file!("src/bus.rs"),
    rust_lib_file!("src/error.rs"),
    rust_lib_file!("src/http/incoming.rs"),
    rust_lib_file!("src/http/method.rs"),
    rust_lib_file!("src/http/mod.rs"),
    rust_lib_file!("src/http/multipart.rs"),
    rust_lib_file!("src/http/nonblocking.rs"),
    rust_lib_file!("src/http/request.rs"),
    rust_lib_file!("src/http/response.rs"),
    rust_lib_file!("src/http/tus.rs"),
    rust_lib_file!("src/http/upload.rs"),
    rust_lib_file!("src/lib.rs"),
    rust_lib_file!("src/mqtt.rs"),
    rust_lib_file!("src/poll.rs"),
    rust_lib_file!("src/process.rs"),
    rust_lib_file!("src/rt.rs"),
    rust_lib_file!("src/sse.rs"),
    rust_lib_file!("src/tcp.rs"),
    rust_lib_file!("src/udp.rs"),
    rust_lib_file!("src/websocket.rs"),
];

/// A file of a guest library: the same path under `guests/<lang>/lib/` and in
/// the project.
macro_rules! lib_file {
    ($lang:literal, $path:literal) => {
        file(
            $path,
            include_str!(concat!("../../guests/", $lang, "/lib/", $path)),
        )
    };
}

const PYTHON: [Template; 27] = [
    file("app.py", include_str!("../templates/python/app.py")),
    lib_file!("python", "sandnet/__init__.py"),
    lib_file!("python", "sandnet/aio.py"),
    lib_file!("python", "sandnet/bus.py"),
    lib_file!("python", "sandnet/error.py"),
    lib_file!("python", "sandnet/http.py"),
    lib_file!("python", "sandnet/mqtt.py"),
    lib_file!("python", "sandnet/poll.py"),
    lib_file!("python", "sandnet/process.py"),
    lib_file!("python", "sandnet/requests/__init__.py"),
    lib_file!("python", "sandnet/requests/adapters.py"),
    lib_file!("python", "sandnet/requests/exceptions.py"),
    lib_file!("python", "sandnet/requests/models.py"),
    lib_file!("python", "sandnet/requests/sessions.py"),
    lib_file!("python", "sandnet/requests/structures.py"),
    lib_file!("python", "sandnet/script.py"),
    lib_file!("python", "sandnet/sse.py"),
    lib_file!("python", "sandnet/tcp.py"),
    lib_file!("python", "sandnet/tus.py"),
    lib_file!("python", "sandnet/udp.py"),
    lib_file!("python", "sandnet/websocket.py"),
    lib_file!("python", "sandnet/websockets/__init__.py"),
    lib_file!("python", "sandnet/websockets/client.py"),
    lib_file!("python", "sandnet/websockets/exceptions.py"),
    lib_file!("python", "sandnet/websockets/sync/__init__.py"),
    lib_file!("python", "sandnet/websockets/sync/client.py"),
    script("build.sh", include_str!("../templates/python/build.sh")),
];

const JS: [Template; 22] = [
    file("app.js", include_str!("../templates/js/app.js")),
    lib_file!("js", "entry.mjs"),
    lib_file!("js", "sandnet.js"),
    lib_file!("js", "sandnet/bytes.js"),
    lib_file!("js", "sandnet/error.js"),
    lib_file!("js", "sandnet/http.js"),
    lib_file!("js", "sandnet/listener.js"),
    lib_file!("js", "sandnet/poll.js"),
    lib_file!("js", "sandnet/process.js"),
    lib_file!("js", "sandnet/sse.js"),
    lib_file!("js", "sandnet/tcp.js"),
    lib_file!("js", "sandnet/tus.js"),
    lib_file!("js", "sandnet/udp.js"),
    lib_file!("js", "sandnet/websocket.js"),
    lib_file!("js", "sandnet/web/events.js"),
    lib_file!("js", "sandnet/web/eventsource.js"),
    lib_file!("js", "sandnet/web/fetch.js"),
    lib_file!("js", "sandnet/web/globals.js"),
    lib_file!("js", "sandnet/web/timers.js"),
    lib_file!("js", "sandnet/web/websocket.js"),
    file("package.json", include_str!("../templates/js/package.json")),
    script("build.sh", include_str!("../templates/js/build.sh")),
];

const C: [Template; 7] = [
    file("main.c", include_str!("../templates/c/main.c")),
    file(
        "sandnet.h",
        include_str!("../../guests/c/include/sandnet.h"),
    ),
    file("sandnet.c", include_str!("../../guests/c/lib/sandnet.c")),
    file(
        "adapter/Cargo.toml",
        include_str!("../../guests/c/adapter/Cargo.toml"),
    ),
    file(
        "adapter/Cargo.lock",
        include_str!("../../guests/c/adapter/Cargo.lock"),
    ),
    file(
        "adapter/lib.rs",
        include_str!("../../guests/c/adapter/lib.rs"),
    ),
    script("build.sh", include_str!("../templates/c/build.sh")),
];

impl Lang {
    fn templates(self) -> &'static [Template] {
        match self {
            Lang::Rust => &RUST,
            Lang::Python => &PYTHON,
            Lang::Js => &JS,
            Lang::C => &C,
        }
    }

    /// The build command, run in the project directory.
    fn build_command(self) -> &'static str {
        match self {
            Lang::Rust => "cargo build --release --target wasm32-wasip2",
            Lang::Python | Lang::Js | Lang::C => "./build.sh",
        }
    }

    /// Where the build command puts the component.
    fn component(self, name: &str) -> PathBuf {
        match self {
            Lang::Rust => Path::new("target/wasm32-wasip2/release").join(format!("{name}.wasm")),
            Lang::Python | Lang::Js | Lang::C => PathBuf::from(format!("{name}.wasm")),
        }
    }

    /// What the build leaves behind that version control should ignore.
    fn ignored(self, name: &str) -> String {
        match self {
            Lang::Rust => "/target/\n".to_owned(),
            Lang::Python => format!("/{name}.wasm\n__pycache__/\n"),
            Lang::Js => format!("/{name}.wasm\n/build/\n/node_modules/\n"),
            Lang::C => format!("/{name}.wasm\n/build/\n/adapter/target/\n"),
        }
    }
}

/// Whether `name` works as a policy guest name, a crate name and a file name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The starter policy: the guest may reach [`STARTER_URL`] and below, nothing else.
pub fn starter_policy(name: &str) -> String {
    format!(
        "# Policy for the `{name}` guest: deny by default; each allow line grants one\n\
         # URL scope. Run `sandnet explain --policy policy.toml URL` to see what a\n\
         # URL needs, and docs/policy.md for every rule form.\n\
         #\n\
         # A loopback address is granted only by naming it: a host name alone never\n\
         # unlocks 127.0.0.1.\n\
         \n\
         [guest.{name}]\n\
         allow = [\n    \"{STARTER_URL}*\",\n]\n\
         \n\
         [guest.{name}.limits]\n\
         memory = \"128 MiB\"\n\
         wall_time = \"30s\"\n"
    )
}

/// Writes a `lang` guest project into `dir`, whose file name is the guest's
/// name. `dir` may exist if it is empty.
pub fn create(lang: Lang, dir: &Path) -> Result<Created, ScaffoldError> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    if !valid_name(&name) {
        return Err(ScaffoldError::InvalidName {
            name: dir.display().to_string(),
        });
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Io { path, source }
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(ScaffoldError::NotEmpty {
                dir: dir.to_owned(),
            });
        }
    }

    let mut files: Vec<(PathBuf, String, bool)> = Vec::new();
    for t in lang.templates() {
        let mut text = t.text.replace("{{name}}", &name);
        if t.path.starts_with(RUST_LIBRARY) {
            text = text.replace(REPO_WIT_PATH, PROJECT_WIT_PATH);
        }
        files.push((t.path.into(), text, t.executable));
    }
    files.push(("policy.toml".into(), starter_policy(&name), false));
    files.push((".gitignore".into(), lang.ignored(&name), false));
    for (file, text) in crate::wit::files() {
        files.push((Path::new("wit").join(file), text.to_owned(), false));
    }

    for (rel, text, executable) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
        if *executable {
            make_executable(&path).map_err(io(&path))?;
        }
    }
    Ok(Created {
        dir: dir.to_owned(),
        files: files.into_iter().map(|(rel, _, _)| rel).collect(),
        build: lang.build_command().to_owned(),
        component: lang.component(&name),
        name,
    })
}

#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path)?.permissions();
    perms.set_mode(perms.mode() | 0o111);
    std::fs::set_permissions(path, perms)
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

impl fmt::Display for Created {
    /// What `sandnet new` prints: where the project is, the one command that
    /// builds it and the command that runs it under its policy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        writeln!(f, "created guest `{}` in {dir}/", self.name)?;
        writeln!(f)?;
        writeln!(f, "build it:")?;
        writeln!(f, "    cd {dir} && {}", self.build)?;
        writeln!(f)?;
        writeln!(
            f,
            "then run it there (its policy.toml grants {STARTER_URL}* and nothing else):"
        )?;
        writeln!(
            f,
            "    sandnet run {} --policy policy.toml -- {STARTER_URL}",
            self.component.display()
        )
    }
}

#[cfg(test)]
#[allow(clippy::panic, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["demo", "my-guest", "a1", "x_y"] {
            assert!(valid_name(ok), "{ok:?} should be accepted");
        }
        for bad in ["", "Demo", "1abc", "-x", "a b", "a.b", "ü"] {
            assert!(!valid_name(bad), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn starter_policy_parses_and_grants_the_starter_url() {
        let text = starter_policy("demo");
        let policy = sandnet_policy::Policy::parse(&text, "policy.toml")
            .unwrap_or_else(|e| panic!("starter policy does not parse: {e}\n{text}"));
        let guest = policy
            .guest(None)
            .unwrap_or_else(|e| panic!("no single guest: {e}"));
        let target = sandnet_policy::Target::parse("http://127.0.0.1:8080/x")
            .unwrap_or_else(|e| panic!("target: {e}"));
        assert!(matches!(
            guest.check(&target),
            sandnet_policy::Decision::Allow(_)
        ));
    }

    /// Every `.py`/`.js`/`.mjs`/`.rs` file under `guests/RELATIVE`, relative to it.
    fn library_files(relative: &str) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            let entries =
                std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() {
                    if name != "__pycache__" {
                        walk(&path, root, out);
                    }
                } else if [".py", ".js", ".mjs", ".rs"]
                    .iter()
                    .any(|ext| name.ends_with(ext))
                {
                    let relative = path.strip_prefix(root).unwrap_or(&path);
                    out.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../guests")
            .join(relative);
        let mut out = Vec::new();
        walk(&root, &root, &mut out);
        out.sort();
        out
    }

    /// The library files (under `guests/library`) a project of `templates`
    /// lacks, given where the project keeps them (`in_project`).
    fn missing(templates: &[Template], library: &str, in_project: &str) -> Vec<String> {
        library_files(library)
            .into_iter()
            .filter(|f| {
                let at = format!("{in_project}{f}");
                !templates.iter().any(|t| t.path == at)
            })
            .collect()
    }

    #[test]
    fn projects_get_the_whole_guest_library() {
        for (lang, templates, library, in_project) in [
            ("python", &PYTHON[..], "python/lib", ""),
            ("js", &JS[..], "js/lib", ""),
            ("rust", &RUST[..], "rust/sandnet-guest", RUST_LIBRARY),
        ] {
            let missing = missing(templates, library, in_project);
            assert!(
                missing.is_empty(),
                "`sandnet new --lang {lang}` leaves out {missing:?}: add them to its templates"
            );
        }
    }

    #[test]
    fn the_rust_library_finds_the_project_wit() {
        let bindings = RUST
            .iter()
            .find(|t| t.path == "sandnet-guest/src/bindings.rs")
            .unwrap_or_else(|| panic!("no bindings.rs in the Rust templates"));
        assert!(
            bindings.text.contains(REPO_WIT_PATH),
            "bindings.rs no longer names {REPO_WIT_PATH}: update REPO_WIT_PATH"
        );
    }
}
