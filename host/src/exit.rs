//! The exit statuses `sandnet` chooses itself, defined once.
//!
//! `sandnet run` exits with the guest's own status when the guest returns or
//! calls exit; every other status comes from this table (the sysexits.h name,
//! where there is one, in brackets):
//!
//! | status | [`Code`]                   | meaning                                                  |
//! |-------:|----------------------------|----------------------------------------------------------|
//! |      0 | [`Code::Success`]          | done; `explain`: the target is allowed                   |
//! |      1 | [`Code::Denied`]           | `explain`: denied; `policy diff`/`check --within`: differs |
//! |      2 | [`Code::Usage`]            | unusable arguments (the status of clap's usage errors)   |
//! |     65 | [`Code::DataError`]        | `policy suggest`: the audit log is unreadable (EX_DATAERR) |
//! |     69 | [`Code::Unavailable`]      | `status`: nothing serves metrics there (EX_UNAVAILABLE)  |
//! |     70 | [`Code::Trapped`]          | the guest trapped (EX_SOFTWARE)                          |
//! |     71 | [`Code::HostFailure`]      | sandnet failed, e.g. unreadable component (EX_OSERR)     |
//! |     78 | [`Code::Policy`]           | the policy file is unusable (EX_CONFIG)                  |
//! |    124 | [`Code::WallTimeExceeded`] | the guest ran past its `wall_time` limit (as timeout(1)) |
//! |    125 | [`Code::MemoryExceeded`]   | the guest outgrew its `memory` limit                     |
//! |    141 | [`Code::StdoutClosed`]     | the guest's stdout pipe closed (as SIGPIPE; `\| head`)   |
//! |    152 | [`Code::CpuTimeExceeded`]  | the guest used up its `cpu_time` limit (as SIGXCPU)      |

/// An exit status `sandnet` chooses itself; see the table in [the module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Code {
    /// Done; for `explain`, the target is allowed.
    Success = 0,
    /// `explain`: the target is denied; `policy diff`: the policies differ;
    /// `policy check --within`: the policy grants something outside the maximum.
    Denied = 1,
    /// The arguments are unusable (the status clap uses for usage errors).
    Usage = 2,
    /// `policy suggest`: the audit log cannot be read (EX_DATAERR).
    DataError = 65,
    /// `status`: nothing serves metrics at the address (EX_UNAVAILABLE).
    Unavailable = 69,
    /// The guest trapped (EX_SOFTWARE).
    Trapped = 70,
    /// sandnet itself failed: unreadable component, I/O error (EX_OSERR).
    HostFailure = 71,
    /// The policy file is unusable (EX_CONFIG).
    Policy = 78,
    /// The guest ran past its `wall_time` limit (the status timeout(1) uses).
    WallTimeExceeded = 124,
    /// The guest outgrew its `memory` limit.
    MemoryExceeded = 125,
    /// The guest's stdout was a pipe whose reader went away (128 + SIGPIPE).
    StdoutClosed = 141,
    /// The guest used up its `cpu_time` limit (128 + SIGXCPU, as a shell reports it).
    CpuTimeExceeded = 152,
}

impl Code {
    /// The numeric status.
    pub const fn get(self) -> u8 {
        self as u8
    }
}

impl From<Code> for i32 {
    fn from(code: Code) -> i32 {
        i32::from(code.get())
    }
}

impl From<Code> for std::process::ExitCode {
    fn from(code: Code) -> Self {
        std::process::ExitCode::from(code.get())
    }
}

/// The process exit status for a guest that exited with `status`: its low
/// eight bits, as a shell reports a child's status.
pub fn of_guest(status: i32) -> std::process::ExitCode {
    let [low, ..] = status.to_le_bytes();
    std::process::ExitCode::from(low)
}
