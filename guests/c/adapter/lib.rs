//! Empty: this package only pins `wasi-preview1-component-adapter-provider`
//! (see Cargo.toml) so the C guests' adapter comes from crates.io, locked.
