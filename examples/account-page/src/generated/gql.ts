/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation StartSession($input: StartSessionInput!) {\n  startSession(input: $input) {\n    token\n    deviceToken\n    session {\n      id\n    }\n  }\n}\n\nfragment SessionRow on Session {\n  id\n  isCurrent\n  startedAt\n  lastActivityAt\n  ipAddress\n  loginMethod\n  location {\n    city\n    country\n  }\n}\n\nquery AccountPage {\n  devices {\n    id\n    name\n    type\n    isCurrent\n    isTrusted\n    status\n    lastSeenAt\n    browser {\n      name\n      version\n    }\n    os {\n      name\n      version\n    }\n    sessions {\n      ...SessionRow\n    }\n  }\n}\n\nmutation TrustDevice($id: ID!) {\n  trustDevice(id: $id) {\n    id\n  }\n}\n\nmutation RenameDevice($id: ID!, $name: String!) {\n  renameDevice(id: $id, name: $name) {\n    id\n  }\n}\n\nmutation ForgetDevice($id: ID!) {\n  forgetDevice(id: $id) {\n    deviceId\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id) {\n    id\n  }\n}\n\nmutation RevokeOtherSessions {\n  revokeAllSessions(includeCurrent: false) {\n    revokedCount\n  }\n}\n\nsubscription SessionStarted {\n  sessionStarted {\n    id\n  }\n}\n\nsubscription SessionRevoked {\n  sessionRevoked {\n    session {\n      id\n    }\n  }\n}\n\nsubscription SignedOut {\n  signedOut {\n    reason\n    at\n  }\n}": typeof types.StartSessionDocument,
};
const documents: Documents = {
    "mutation StartSession($input: StartSessionInput!) {\n  startSession(input: $input) {\n    token\n    deviceToken\n    session {\n      id\n    }\n  }\n}\n\nfragment SessionRow on Session {\n  id\n  isCurrent\n  startedAt\n  lastActivityAt\n  ipAddress\n  loginMethod\n  location {\n    city\n    country\n  }\n}\n\nquery AccountPage {\n  devices {\n    id\n    name\n    type\n    isCurrent\n    isTrusted\n    status\n    lastSeenAt\n    browser {\n      name\n      version\n    }\n    os {\n      name\n      version\n    }\n    sessions {\n      ...SessionRow\n    }\n  }\n}\n\nmutation TrustDevice($id: ID!) {\n  trustDevice(id: $id) {\n    id\n  }\n}\n\nmutation RenameDevice($id: ID!, $name: String!) {\n  renameDevice(id: $id, name: $name) {\n    id\n  }\n}\n\nmutation ForgetDevice($id: ID!) {\n  forgetDevice(id: $id) {\n    deviceId\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id) {\n    id\n  }\n}\n\nmutation RevokeOtherSessions {\n  revokeAllSessions(includeCurrent: false) {\n    revokedCount\n  }\n}\n\nsubscription SessionStarted {\n  sessionStarted {\n    id\n  }\n}\n\nsubscription SessionRevoked {\n  sessionRevoked {\n    session {\n      id\n    }\n  }\n}\n\nsubscription SignedOut {\n  signedOut {\n    reason\n    at\n  }\n}": types.StartSessionDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation StartSession($input: StartSessionInput!) {\n  startSession(input: $input) {\n    token\n    deviceToken\n    session {\n      id\n    }\n  }\n}\n\nfragment SessionRow on Session {\n  id\n  isCurrent\n  startedAt\n  lastActivityAt\n  ipAddress\n  loginMethod\n  location {\n    city\n    country\n  }\n}\n\nquery AccountPage {\n  devices {\n    id\n    name\n    type\n    isCurrent\n    isTrusted\n    status\n    lastSeenAt\n    browser {\n      name\n      version\n    }\n    os {\n      name\n      version\n    }\n    sessions {\n      ...SessionRow\n    }\n  }\n}\n\nmutation TrustDevice($id: ID!) {\n  trustDevice(id: $id) {\n    id\n  }\n}\n\nmutation RenameDevice($id: ID!, $name: String!) {\n  renameDevice(id: $id, name: $name) {\n    id\n  }\n}\n\nmutation ForgetDevice($id: ID!) {\n  forgetDevice(id: $id) {\n    deviceId\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id) {\n    id\n  }\n}\n\nmutation RevokeOtherSessions {\n  revokeAllSessions(includeCurrent: false) {\n    revokedCount\n  }\n}\n\nsubscription SessionStarted {\n  sessionStarted {\n    id\n  }\n}\n\nsubscription SessionRevoked {\n  sessionRevoked {\n    session {\n      id\n    }\n  }\n}\n\nsubscription SignedOut {\n  signedOut {\n    reason\n    at\n  }\n}"): typeof import('./graphql').StartSessionDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
