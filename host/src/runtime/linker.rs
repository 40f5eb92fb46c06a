//! The linker a guest is instantiated with: WASI, standard `wasi:http`, the
//! guard's name lookup and socket limits, the implemented `sandnet:net`
//! interfaces, and trapping stubs for the rest.

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::Runtime;
use crate::net;
use crate::state::State;

impl Runtime {
    /// WASI (deny-all sockets, no preopens) + the implemented `sandnet:net`
    /// interfaces; imports this host does not implement yet trap when called.
    pub(super) fn linker(&self, component: &Component) -> anyhow::Result<Linker<State>> {
        let mut linker = Linker::<State>::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        net::add_to_linker(&mut linker)?;
        stub_unimplemented(&self.engine, &mut linker, component)?;
        Ok(linker)
    }
}

/// Whether this host links the `sandnet:net` interface `name` (else its calls trap).
pub fn implements(name: &str) -> bool {
    name == "types" || net::Protocol::from_wit_name(name).is_some()
}

/// Host type standing in for resources of interfaces not implemented yet; no
/// value of it is ever created.
struct Unimplemented;

/// Lets a guest built against the whole `sandnet:net` world (componentize-py
/// imports every interface of its world) instantiate: each function of an
/// interface not implemented yet traps with a message naming it.
fn stub_unimplemented(
    engine: &Engine,
    linker: &mut Linker<State>,
    component: &Component,
) -> anyhow::Result<()> {
    use wasmtime::component::ResourceType;
    use wasmtime::component::types::ComponentItem;
    let ty = component.component_type();
    for (name, import) in ty.imports(engine) {
        let Some(rest) = name.strip_prefix("sandnet:net/") else {
            continue;
        };
        let interface = rest.split('@').next().unwrap_or(rest);
        if implements(interface) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = import.ty else {
            continue;
        };
        let mut stubs = linker.instance(name)?;
        for (item, extern_) in instance.exports(engine) {
            match extern_.ty {
                ComponentItem::ComponentFunc(_) => {
                    let message = format!(
                        "the guest called `{item}` of sandnet:net/{interface}, which this version of sandnet does not implement yet"
                    );
                    stubs.func_new(item, move |_, _, _, _| {
                        Err(wasmtime::Error::msg(message.clone()))
                    })?;
                }
                ComponentItem::Resource(_) if item == "pollable" => {
                    stubs.resource(
                        item,
                        ResourceType::host::<wasmtime_wasi::p2::DynPollable>(),
                        |_, _| Ok(()),
                    )?;
                }
                ComponentItem::Resource(_) => {
                    stubs.resource(item, ResourceType::host::<Unimplemented>(), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}
