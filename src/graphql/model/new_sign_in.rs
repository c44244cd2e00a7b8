use async_graphql::{Context, ID, Object, Result};
use entity::{device, session};

use super::{Device, Location, Session, SignInCheck};
use crate::{
    graphql::{internal_error, scalars::DateTime},
    service::{self, Viewer},
};

/// A sign-in on a device the account had never used, which the account's other sessions
/// are asked about: "was this you?". Answered with `confirmSignIn` or `rejectSignIn`.
pub struct NewSignIn {
    session: session::Model,
    /// The device as the answer left it; loaded when not known (a pushed sign-in).
    device: Option<device::Model>,
    viewer: Viewer,
}

impl NewSignIn {
    pub fn new(found: service::NewSignIn, viewer: impl Into<Viewer>) -> Self {
        Self {
            session: found.session,
            device: Some(found.device),
            viewer: viewer.into(),
        }
    }

    /// The sign-in `session` made, as an event told of it.
    pub fn of_session(session: session::Model, viewer: impl Into<Viewer>) -> Self {
        Self {
            session,
            device: None,
            viewer: viewer.into(),
        }
    }

    async fn device_row(&self, ctx: &Context<'_>) -> Result<device::Model> {
        if let Some(device) = &self.device {
            return Ok(device.clone());
        }
        Device::load_row(ctx, &self.viewer, self.session.device_id)
            .await?
            .ok_or_else(|| internal_error("a sign-in's device is missing"))
    }
}

#[Object]
impl NewSignIn {
    /// The id of the session that signed in: what `confirmSignIn` and `rejectSignIn` take.
    async fn id(&self) -> ID {
        ID(self.session.id.to_string())
    }

    /// The session that signed in.
    async fn session(&self) -> Session {
        Session::new(self.session.clone(), &self.viewer)
    }

    /// The device it signed in on: its browser, operating system and type. Its `name` may
    /// be whatever the signing-in client chose: show `summary` as the facts, and
    /// `chosenDeviceName` apart, as the device's claim.
    async fn device(&self, ctx: &Context<'_>) -> Result<Device> {
        Ok(Device::new(self.device_row(ctx).await?, &self.viewer))
    }

    /// What the server observed of this sign-in, and nothing a client chose as a name: the
    /// browser and system its user agent gives, its address and location, e.g.
    /// "Safari on iPhone · 203.0.113.9 · Berlin, DE". What a prompt should lead with.
    async fn summary(&self, ctx: &Context<'_>) -> Result<String> {
        let device = self.device_row(ctx).await?;
        Ok(service::observed_summary(&self.session, &device))
    }

    /// The device's name when a client chose it (at sign-in or by a rename) rather than the
    /// server naming it after its user agent; null otherwise. Anyone signing in can call
    /// their device "Alice's MacBook Pro": show it only as what the device calls itself.
    async fn chosen_device_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let device = self.device_row(ctx).await?;
        Ok(service::chosen_device_name(&device).map(str::to_owned))
    }

    /// How the user authenticated, as on `Session.loginMethod`.
    async fn login_method(&self) -> Option<&str> {
        self.session.login_method.as_deref()
    }

    /// The address it signed in from.
    async fn ip_address(&self) -> Option<&str> {
        self.session.ip_address.as_deref()
    }

    /// Where it signed in from, when a trusted proxy said.
    async fn location(&self) -> Option<Location> {
        Location::from_parts(&self.session.country, &self.session.city)
    }

    /// When it signed in.
    async fn signed_in_at(&self) -> DateTime {
        DateTime(self.session.started_at)
    }

    /// Whether it has been answered, and how.
    async fn check(&self, ctx: &Context<'_>) -> Result<SignInCheck> {
        self.device_row(ctx)
            .await?
            .sign_in_check
            .map(Into::into)
            .ok_or_else(|| internal_error("a new sign-in's device has no check"))
    }

    /// When it was confirmed or rejected; null while unanswered.
    async fn answered_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime>> {
        Ok(self.device_row(ctx).await?.sign_in_checked_at.map(DateTime))
    }

    /// Under the confirmation policy, when the device's sessions end unless the sign-in is
    /// confirmed first; until then they may only read themselves. Null when nothing waits.
    async fn confirm_by(&self, ctx: &Context<'_>) -> Result<Option<DateTime>> {
        Ok(self.device_row(ctx).await?.confirm_by.map(DateTime))
    }
}
