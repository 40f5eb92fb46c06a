//! Reads linked by hand so received bytes go into guest memory straight from
//! the buffer they arrived in: the generated bindings return `Vec<u8>`, which
//! costs one more copy of every byte a guest reads.
//!
//! The generated method stays implemented (as a thin wrapper over the same
//! read) and is shadowed here, after the generated `add_to_linker`.

use std::pin::Pin;

use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentType, Linker, Lower, Resource};

use crate::bindings::types::{Host as _, NetError};
use crate::error::HostError;
use crate::net::{NetHost, NetView, Protocol};

/// The `sandnet:net` package version the linker instances are named with.
pub const PACKAGE_VERSION: &str = "0.1.0";

/// What a hand-linked read returns: `Out` is lowered as the WIT result's
/// `ok` side (e.g. `bytes::Bytes` for `list<u8>`).
pub type ReadFuture<'a, Out> = Pin<Box<dyn Future<Output = Result<Out, HostError>> + Send + 'a>>;

/// A `read(max-bytes: u32)` method of resource `R` on the guest's view.
pub type ReadFn<R, Out> =
    for<'a, 'b> fn(&'a mut NetView<'b>, Resource<R>, u32) -> ReadFuture<'a, Out>;

/// Replaces `[method]<resource>.read` of `protocol`'s interface with `read`,
/// whose `Err` goes through `convert_net_error` as in the generated glue.
pub fn link_read<T, R, Out>(
    linker: &mut Linker<T>,
    protocol: Protocol,
    resource: &str,
    read: ReadFn<R, Out>,
) -> wasmtime::Result<()>
where
    T: NetHost,
    R: Send + 'static,
    Out: ComponentType + Lower + Send + Sync + 'static,
{
    let interface = format!("sandnet:net/{}@{PACKAGE_VERSION}", protocol.wit_name());
    let name = format!("[method]{resource}.read");
    linker.allow_shadowing(true);
    let linked = linker.instance(&interface)?.func_wrap_async(
        &name,
        move |mut store: StoreContextMut<'_, T>, (this, max_bytes): (Resource<R>, u32)| {
            Box::new(async move {
                let mut view = store.data_mut().net_view();
                let outcome: Result<Out, NetError> = match read(&mut view, this, max_bytes).await {
                    Ok(out) => Ok(out),
                    Err(err) => Err(view.convert_net_error(err)?),
                };
                Ok((outcome,))
            })
        },
    );
    linker.allow_shadowing(false);
    linked
}

#[cfg(test)]
mod tests {
    use super::PACKAGE_VERSION;

    #[test]
    fn the_linked_version_is_the_wit_package_version() {
        for (file, text) in crate::wit::WIT_FILES {
            let package = format!("package sandnet:net@{PACKAGE_VERSION};");
            assert!(
                text.lines().next() == Some(package.as_str()),
                "{file} does not start with {package:?}: update PACKAGE_VERSION"
            );
        }
    }
}
