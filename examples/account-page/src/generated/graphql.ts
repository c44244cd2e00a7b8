/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Whether the user vouches for a device. */
export type DeviceStatus =
  /** Flagged as compromised: it can never sign in again. Final. */
  | 'HIJACKED'
  /** Never trusted, or its trust was removed or has expired. */
  | 'UNVERIFIED'
  /** Trusted by the user until `trustExpiresAt`. */
  | 'VERIFIED';

/** What kind of hardware a device is, judged from its user agent. */
export type DeviceType =
  /** A desktop or laptop computer. */
  | 'DESKTOP'
  /** A phone. */
  | 'MOBILE'
  /** A tablet. */
  | 'TABLET'
  /** The user agent did not say. */
  | 'UNKNOWN';

/** Why a session ended. */
export type SessionEndReason =
  /** An administrator ended it, e.g. after a password change or an account lock. */
  | 'ADMIN_REVOKED'
  /** Its device was forgotten. */
  | 'DEVICE_FORGOTTEN'
  /** Its device was flagged as hijacked. */
  | 'DEVICE_HIJACKED'
  /** Its device was signed out (`signOutDevice`). */
  | 'DEVICE_SIGNED_OUT'
  /** No activity within the idle timeout. */
  | 'IDLE_TIMEOUT'
  /** Its absolute lifetime was reached. */
  | 'LIFETIME_EXCEEDED'
  /**
   * It signed in on a new device under the confirmation policy and no other session
   * confirmed the sign-in in time.
   */
  | 'NOT_CONFIRMED'
  /** Another session of the same user revoked it. */
  | 'REVOKED'
  /** The session signed itself out. */
  | 'SIGNED_OUT'
  /**
   * The user signed in once more than the active sessions allowed per user; the least
   * recently active session made room.
   */
  | 'TOO_MANY_SESSIONS';

/** How to sign in. */
export type StartSessionInput = {
  /**
   * A human-readable name; defaults to one derived from the user agent, e.g.
   * "Chrome on Windows". At most 100 characters.
   */
  deviceName?: string | null | undefined;
  /**
   * The device token returned by an earlier startSession on this device; omitted on a
   * new device.
   */
  deviceToken?: string | null | undefined;
  /** A JSON object (at most 4 KiB) to keep with the device, e.g. app version. */
  metadata?: unknown;
  /** Defaults to the request's User-Agent header. At most 1024 bytes. */
  userAgent?: string | null | undefined;
};

export type StartSessionMutationVariables = Exact<{
  input: StartSessionInput;
}>;


export type StartSessionMutation = { startSession: { token: string, deviceToken: string, session: { id: string } } };

export type SessionRowFragment = { id: string, isCurrent: boolean, startedAt: string, lastActivityAt: string, ipAddress: string | null, loginMethod: string | null, location: { city: string | null, country: string | null } | null };

export type AccountPageQueryVariables = Exact<{ [key: string]: never; }>;


export type AccountPageQuery = { devices: Array<{ id: string, name: string, type: DeviceType, isCurrent: boolean, isTrusted: boolean, status: DeviceStatus, lastSeenAt: string, browser: { name: string, version: string | null } | null, os: { name: string, version: string | null } | null, sessions: Array<{ id: string, isCurrent: boolean, startedAt: string, lastActivityAt: string, ipAddress: string | null, loginMethod: string | null, location: { city: string | null, country: string | null } | null }> }> };

export type TrustDeviceMutationVariables = Exact<{
  id: string | number;
}>;


export type TrustDeviceMutation = { trustDevice: { id: string } };

export type RenameDeviceMutationVariables = Exact<{
  id: string | number;
  name: string;
}>;


export type RenameDeviceMutation = { renameDevice: { id: string } };

export type ForgetDeviceMutationVariables = Exact<{
  id: string | number;
}>;


export type ForgetDeviceMutation = { forgetDevice: { deviceId: string } };

export type RevokeSessionMutationVariables = Exact<{
  id: string | number;
}>;


export type RevokeSessionMutation = { revokeSession: { id: string } };

export type RevokeOtherSessionsMutationVariables = Exact<{ [key: string]: never; }>;


export type RevokeOtherSessionsMutation = { revokeAllSessions: { revokedCount: number } };

export type SessionStartedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type SessionStartedSubscription = { sessionStarted: { id: string } };

export type SessionRevokedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type SessionRevokedSubscription = { sessionRevoked: { session: { id: string } } };

export type SignedOutSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type SignedOutSubscription = { signedOut: { reason: SessionEndReason, at: string } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const SessionRowFragmentDoc = new TypedDocumentString(`
    fragment SessionRow on Session {
  id
  isCurrent
  startedAt
  lastActivityAt
  ipAddress
  loginMethod
  location {
    city
    country
  }
}
    `, {"fragmentName":"SessionRow"}) as unknown as TypedDocumentString<SessionRowFragment, unknown>;
export const StartSessionDocument = new TypedDocumentString(`
    mutation StartSession($input: StartSessionInput!) {
  startSession(input: $input) {
    token
    deviceToken
    session {
      id
    }
  }
}
    `) as unknown as TypedDocumentString<StartSessionMutation, StartSessionMutationVariables>;
export const AccountPageDocument = new TypedDocumentString(`
    query AccountPage {
  devices {
    id
    name
    type
    isCurrent
    isTrusted
    status
    lastSeenAt
    browser {
      name
      version
    }
    os {
      name
      version
    }
    sessions {
      ...SessionRow
    }
  }
}
    fragment SessionRow on Session {
  id
  isCurrent
  startedAt
  lastActivityAt
  ipAddress
  loginMethod
  location {
    city
    country
  }
}`) as unknown as TypedDocumentString<AccountPageQuery, AccountPageQueryVariables>;
export const TrustDeviceDocument = new TypedDocumentString(`
    mutation TrustDevice($id: ID!) {
  trustDevice(id: $id) {
    id
  }
}
    `) as unknown as TypedDocumentString<TrustDeviceMutation, TrustDeviceMutationVariables>;
export const RenameDeviceDocument = new TypedDocumentString(`
    mutation RenameDevice($id: ID!, $name: String!) {
  renameDevice(id: $id, name: $name) {
    id
  }
}
    `) as unknown as TypedDocumentString<RenameDeviceMutation, RenameDeviceMutationVariables>;
export const ForgetDeviceDocument = new TypedDocumentString(`
    mutation ForgetDevice($id: ID!) {
  forgetDevice(id: $id) {
    deviceId
  }
}
    `) as unknown as TypedDocumentString<ForgetDeviceMutation, ForgetDeviceMutationVariables>;
export const RevokeSessionDocument = new TypedDocumentString(`
    mutation RevokeSession($id: ID!) {
  revokeSession(id: $id) {
    id
  }
}
    `) as unknown as TypedDocumentString<RevokeSessionMutation, RevokeSessionMutationVariables>;
export const RevokeOtherSessionsDocument = new TypedDocumentString(`
    mutation RevokeOtherSessions {
  revokeAllSessions(includeCurrent: false) {
    revokedCount
  }
}
    `) as unknown as TypedDocumentString<RevokeOtherSessionsMutation, RevokeOtherSessionsMutationVariables>;
export const SessionStartedDocument = new TypedDocumentString(`
    subscription SessionStarted {
  sessionStarted {
    id
  }
}
    `) as unknown as TypedDocumentString<SessionStartedSubscription, SessionStartedSubscriptionVariables>;
export const SessionRevokedDocument = new TypedDocumentString(`
    subscription SessionRevoked {
  sessionRevoked {
    session {
      id
    }
  }
}
    `) as unknown as TypedDocumentString<SessionRevokedSubscription, SessionRevokedSubscriptionVariables>;
export const SignedOutDocument = new TypedDocumentString(`
    subscription SignedOut {
  signedOut {
    reason
    at
  }
}
    `) as unknown as TypedDocumentString<SignedOutSubscription, SignedOutSubscriptionVariables>;