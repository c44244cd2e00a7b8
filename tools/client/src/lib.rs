//! One client of a running Sessionhub, shared by the tests, the load tool and the benches,
//! so that each speaks to the server the same way a product does:
//!
//! - [`identity`]: identity tokens as a product's own login mints them (HS256);
//! - [`graphql`]: a GraphQL request over HTTP, answered with its status and body;
//! - [`live`]: a `graphql-transport-ws` (or legacy `graphql-ws`) socket, as the npm
//!   `graphql-ws` client opens one.

pub mod graphql;
pub mod identity;
pub mod live;
