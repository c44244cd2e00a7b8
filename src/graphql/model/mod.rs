//! The API's object types. Each wraps a storage row and decides what clients see of it,
//! so tables can change without breaking the contract; each relation loads through the
//! request's batch loaders.

mod device;
mod enums;
mod location;
mod new_sign_in;
mod payloads;
mod security_event;
mod session;

pub use device::Device;
pub use enums::{
    DeviceStatus, DeviceType, SecurityEventKind, SessionEndReason, SessionStatus, SignInCheck,
    TrustLevel,
};
pub use location::Location;
pub use new_sign_in::NewSignIn;
pub use payloads::{
    ForgetDevicePayload, RevokeSessionsPayload, SessionExpiringEvent, SessionRevokedEvent,
    SignedOutEvent, StartSessionPayload,
};
pub use security_event::SecurityEvent;
pub use session::Session;
