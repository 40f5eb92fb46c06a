//! The one rule for guest options: an option may only tighten what the policy
//! grants, never loosen it. Every protocol reads its options through here.

use std::time::Duration;

/// The guest's timeout in milliseconds, capped at the policy's; the policy's when
/// the guest gives none.
pub fn tighten_ms(guest_ms: Option<u32>, policy: Duration) -> Duration {
    tighten(
        guest_ms.map(|ms| Duration::from_millis(u64::from(ms))),
        policy,
    )
}

/// The guest's value capped at the policy's; the policy's when the guest gives none.
pub fn tighten<T: Ord>(guest: Option<T>, policy: T) -> T {
    match guest {
        Some(value) => value.min(policy),
        None => policy,
    }
}

/// A count the guest must opt into (redirects): `0` unless asked, at most the policy's.
pub fn opt_in<T: Ord + Default>(guest: Option<T>, policy: T) -> T {
    guest.unwrap_or_default().min(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_only_tighten() {
        let policy = Duration::from_secs(5);
        assert_eq!(tighten_ms(None, policy), policy);
        assert_eq!(tighten_ms(Some(250), policy), Duration::from_millis(250));
        assert_eq!(tighten_ms(Some(60_000), policy), policy, "cannot loosen");
        assert_eq!(tighten(Some(2_000_000u64), 1_000_000), 1_000_000);
        assert_eq!(opt_in(None, 5u32), 0, "off unless asked");
        assert_eq!(opt_in(Some(9u32), 5), 5);
        assert_eq!(opt_in(Some(2u32), 5), 2);
    }
}
