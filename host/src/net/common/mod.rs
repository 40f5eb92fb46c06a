//! Pieces every protocol shares: the wire form of a checked target, guest header
//! rules, TLS, the tighten-only option rule and the inbox that hands a
//! connection task's output to the guest.

pub mod bytes_out;
pub mod headers;
pub mod inbox;
pub mod memo;
pub mod options;
pub mod pins;
pub mod refs;
pub mod secrets;
pub mod tls;
pub mod url;
pub mod wire;

/// The `subscribe` and `drop` methods every pollable `sandnet:net` resource
/// has, for its `Host<Resource>` impl on [`NetView`](crate::net::NetView):
/// a pollable over the host value (which implements `Pollable`), and removal
/// from the table, which closes whatever the value holds.
macro_rules! pollable_resource_methods {
    ($resource:ty) => {
        async fn subscribe(
            &mut self,
            this: wasmtime::component::Resource<$resource>,
        ) -> wasmtime::Result<wasmtime::component::Resource<wasmtime_wasi::p2::DynPollable>> {
            wasmtime_wasi::p2::subscribe(self.table, this)
        }

        async fn drop(
            &mut self,
            this: wasmtime::component::Resource<$resource>,
        ) -> wasmtime::Result<()> {
            self.table.delete(this)?;
            Ok(())
        }
    };
}
pub(crate) use pollable_resource_methods;

/// `Pollable` for a resource whose host value is a newtype over a handle with
/// an [`inbox`](crate::net::common::inbox): ready when the inbox holds
/// something (or has ended).
macro_rules! pollable_on_inbox {
    ($resource:ty) => {
        #[wasmtime_wasi::async_trait]
        impl wasmtime_wasi::p2::Pollable for $resource {
            async fn ready(&mut self) {
                self.0.inbox.ready().await;
            }
        }
    };
}
pub(crate) use pollable_on_inbox;
