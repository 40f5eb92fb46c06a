//! The `sandnet:net` WIT package embedded in the binary, with the WASI packages it
//! depends on, so `sandnet wit` and `sandnet new` cannot drift from the host.

use std::path::{Path, PathBuf};

/// The `sandnet:net` WIT files, as `(file name, text)`.
pub const WIT_FILES: [(&str, &str); 10] = [
    ("types.wit", include_str!("../../wit/types.wit")),
    ("http.wit", include_str!("../../wit/http.wit")),
    ("websocket.wit", include_str!("../../wit/websocket.wit")),
    ("sse.wit", include_str!("../../wit/sse.wit")),
    ("tcp.wit", include_str!("../../wit/tcp.wit")),
    ("udp.wit", include_str!("../../wit/udp.wit")),
    ("bus.wit", include_str!("../../wit/bus.wit")),
    ("mqtt.wit", include_str!("../../wit/mqtt.wit")),
    ("world.wit", include_str!("../../wit/world.wit")),
    ("host.wit", include_str!("../../wit/host.wit")),
];

/// The WASI packages the WIT depends on, as `(package name, text)`; each is
/// written as `deps/<name>/<name>.wit`.
pub const WIT_DEPS: [(&str, &str); 6] = [
    ("cli", include_str!("../../wit/deps/cli/cli.wit")),
    ("clocks", include_str!("../../wit/deps/clocks/clocks.wit")),
    (
        "filesystem",
        include_str!("../../wit/deps/filesystem/filesystem.wit"),
    ),
    ("io", include_str!("../../wit/deps/io/io.wit")),
    ("random", include_str!("../../wit/deps/random/random.wit")),
    (
        "sockets",
        include_str!("../../wit/deps/sockets/sockets.wit"),
    ),
];

/// Every file of the package as `(path inside the WIT directory, text)`: the
/// [`WIT_FILES`], then `deps/<name>/<name>.wit` for each of the [`WIT_DEPS`].
pub fn files() -> impl Iterator<Item = (PathBuf, &'static str)> {
    let own = WIT_FILES
        .into_iter()
        .map(|(name, text)| (PathBuf::from(name), text));
    let deps = WIT_DEPS.into_iter().map(|(name, text)| {
        let path = Path::new("deps").join(name).join(format!("{name}.wit"));
        (path, text)
    });
    own.chain(deps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wit_file_of_the_package_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.ends_with(".wit"))
                    .collect()
            })
            .unwrap_or_default();
        on_disk.sort();
        let mut embedded: Vec<String> = WIT_FILES.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "wit/*.wit and WIT_FILES differ");
    }
}
