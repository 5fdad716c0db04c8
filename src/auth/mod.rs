//! Authentication (HTTP Basic against stored, hashed credentials) and xAPI scopes.
//! Used by the HTTP layer before a request body is read, and by the CLI.

mod authenticator;
mod credentials;
mod limiter;
pub mod scope;
pub mod secret;

pub use authenticator::{AuthError, Authenticator, Principal};
pub use credentials::{create_credential, ensure_admin_credential, NewCredential};
pub use scope::{Access, ReadReach, Scope};
