//! What a new policy file means for the guests already running: the pure
//! comparison behind `sandnet up`'s reload (start, stop, restart or re-scope).

use sandnet_policy::GuestPolicy;

/// What happens to one guest when a policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New guest naming a component: start its instances.
    Start(String),
    /// Guest removed (or its `component` removed): stop its instances.
    Stop(String),
    /// Its program (`component`, `args`, `restart` or `instances`) changed:
    /// stop the instances and start them again under the new table.
    Restart(String),
    /// Only scopes, limits, env, CA bundle or denial detail changed: running
    /// instances keep running; new requests and connections are judged by the
    /// new table at once and connections it no longer grants are closed.
    Rescope(String),
    /// Nothing changed.
    Keep(String),
}

impl Change {
    /// The guest it concerns.
    pub fn guest(&self) -> &str {
        match self {
            Change::Start(g)
            | Change::Stop(g)
            | Change::Restart(g)
            | Change::Rescope(g)
            | Change::Keep(g) => g,
        }
    }
}

/// The changes that take the guests of `old` (those naming a component) to
/// those of `new`: stops first (in `old`'s order), then the rest in `new`'s order.
pub fn plan(old: &[GuestPolicy], new: &[GuestPolicy]) -> Vec<Change> {
    let runnable = |g: &&GuestPolicy| g.program.is_some();
    let mut changes: Vec<Change> = old
        .iter()
        .filter(runnable)
        .filter(|o| !new.iter().filter(runnable).any(|n| n.name == o.name))
        .map(|o| Change::Stop(o.name.clone()))
        .collect();
    for guest in new.iter().filter(runnable) {
        let name = guest.name.clone();
        let change = match old.iter().filter(runnable).find(|o| o.name == guest.name) {
            None => Change::Start(name),
            Some(before) if before.program != guest.program => Change::Restart(name),
            Some(before) if before != guest => Change::Rescope(name),
            Some(_) => Change::Keep(name),
        };
        changes.push(change);
    }
    changes
}

#[cfg(test)]
mod tests {
    use sandnet_policy::Policy;

    use super::*;

    fn guests(text: &str) -> Vec<GuestPolicy> {
        match Policy::parse(text, "policy.toml") {
            Ok(p) => p.guests().to_vec(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn reload_changes() {
        let old = guests(
            "[guest.echo]\ncomponent = \"echo.wasm\"\nallow = [\"ws-listen://127.0.0.1:9000\"]\n\
             [guest.poller]\ncomponent = \"poll.wasm\"\nallow = []\n\
             [guest.gone]\ncomponent = \"gone.wasm\"\n\
             [guest.bumped]\ncomponent = \"b.wasm\"\nargs = [\"1\"]\n\
             [guest.library]\nallow = []\n",
        );
        let new = guests(
            "[guest.echo]\ncomponent = \"echo.wasm\"\nallow = [\"ws-listen://127.0.0.1:9000\"]\n\
             [guest.poller]\ncomponent = \"poll.wasm\"\nallow = [\"https://api.example.com/\"]\n\
             [guest.bumped]\ncomponent = \"b.wasm\"\nargs = [\"2\"]\n\
             [guest.fresh]\ncomponent = \"f.wasm\"\n\
             [guest.library]\nallow = [\"https://x.example/\"]\n",
        );
        let want = vec![
            Change::Stop("gone".into()),
            Change::Keep("echo".into()),
            Change::Rescope("poller".into()),
            Change::Restart("bumped".into()),
            Change::Start("fresh".into()),
        ];
        assert_eq!(plan(&old, &new), want);
    }

    #[test]
    fn first_start_and_final_stop() {
        let one = guests("[guest.a]\ncomponent = \"a.wasm\"\n[guest.b]\nallow = []\n");
        assert_eq!(plan(&[], &one), vec![Change::Start("a".into())]);
        assert_eq!(plan(&one, &[]), vec![Change::Stop("a".into())]);
        let restart_only = guests("[guest.a]\ncomponent = \"a.wasm\"\nrestart = \"always\"\n");
        assert_eq!(plan(&one, &restart_only), vec![Change::Restart("a".into())]);
    }
}
