//! The API's enums. Each mirrors a storage or service enum through async-graphql's
//! `remote`, which writes both conversions: a variant added on one side and not the other
//! is a compile error, not a silent gap.

use async_graphql::Enum;

/// What kind of hardware a device is, judged from its user agent.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::device::DeviceType")]
pub enum DeviceType {
    /// A desktop or laptop computer.
    Desktop,
    /// A phone.
    Mobile,
    /// A tablet.
    Tablet,
    /// The user agent did not say.
    Unknown,
}

/// Whether the user vouches for a device.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::device::DeviceStatus")]
pub enum DeviceStatus {
    /// Never trusted, or its trust was removed or has expired.
    Unverified,
    /// Trusted by the user until `trustExpiresAt`.
    Verified,
    /// Flagged as compromised: it can never sign in again. Final.
    Hijacked,
}

/// How much a trusted device is trusted.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::device::TrustLevel")]
pub enum TrustLevel {
    /// Fully trusted, e.g. the user's own computer.
    High,
    /// Trusted for everyday use.
    Medium,
    /// Known, but trusted only a little.
    Low,
    /// Not trusted, or the level is not known.
    Unknown,
}

/// Whether a session can still be used.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::service::SessionState")]
pub enum SessionStatus {
    /// In use: its token is accepted until `expiresAt`.
    Active,
    /// Ended by a person or a rule: signed out, revoked, its device signed out, hijacked or
    /// forgotten, or pushed out by the cap on active sessions.
    Revoked,
    /// Ended by time: idle for too long, past its absolute lifetime, or not confirmed in
    /// time.
    Expired,
}

/// Why a session ended.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::session::EndReason")]
pub enum SessionEndReason {
    /// The session signed itself out.
    SignedOut,
    /// Another session of the same user revoked it.
    Revoked,
    /// Its device was signed out (`signOutDevice`).
    DeviceSignedOut,
    /// Its device was flagged as hijacked.
    DeviceHijacked,
    /// Its device was forgotten.
    DeviceForgotten,
    /// No activity within the idle timeout.
    IdleTimeout,
    /// Its absolute lifetime was reached.
    LifetimeExceeded,
    /// The user signed in once more than the active sessions allowed per user; the least
    /// recently active session made room.
    TooManySessions,
    /// It signed in on a new device under the confirmation policy and no other session
    /// confirmed the sign-in in time.
    NotConfirmed,
    /// An administrator ended it, e.g. after a password change or an account lock.
    AdminRevoked,
}

/// What happened to the account.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::account_event::EventKind")]
pub enum SecurityEventKind {
    /// A session started (someone signed in).
    SessionStarted,
    /// A session ended; `endReason` says why.
    SessionEnded,
    /// A device signed in for the first time.
    DeviceAdded,
    /// A device was trusted.
    DeviceTrusted,
    /// A device's trust was removed.
    DeviceUntrusted,
    /// A device was flagged as hijacked.
    DeviceHijacked,
    /// A device was renamed.
    DeviceRenamed,
    /// A device was forgotten.
    DeviceForgotten,
    /// Too many sign-ins in a row: further sign-ins were refused for a while. Recorded
    /// once per lockout.
    SignInRateLimited,
    /// One session made too many requests in a row: its requests were refused for a
    /// while. `session` and `device` name it. Recorded once per lockout.
    SessionRateLimited,
    /// Someone signed in on a device the account had never used: "was this you?".
    /// `session` and `device` name the sign-in; `detail` holds `loginMethod` and, under
    /// the confirmation policy, `confirmBy`.
    NewSignIn,
    /// A sign-in on a new device was confirmed as the user's; `actorSession` confirmed it.
    SignInConfirmed,
    /// A sign-in on a new device was rejected: its sessions ended and its device was
    /// flagged hijacked. `actorSession` rejected it.
    SignInRejected,
    /// A device's trust ran out (`occurredAt` is when); `detail.level` is the level it had.
    DeviceTrustExpired,
}

/// How the account answered "was this you?" for a sign-in on a new device.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::device::SignInCheck")]
pub enum SignInCheck {
    /// Not answered yet.
    Unconfirmed,
    /// Confirmed as the user's.
    Confirmed,
    /// Rejected: its device was flagged hijacked.
    Rejected,
}
