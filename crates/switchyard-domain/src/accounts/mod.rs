//! Accounts: users and their passwords, sessions (access and refresh tokens), the lockout,
//! roles and admin work with its audit trail, gateway API keys, and the identity cache that
//! authenticates requests without a query. Depends on the kernel only.

pub mod admin;
pub mod api_key;
pub mod audit;
#[cfg(test)]
mod fakes;
pub mod identity;
pub mod keys;
pub mod limits;
pub mod password;
pub mod ports;
pub mod profile;
pub mod service;
#[cfg(test)]
mod tests;
pub mod token;
pub mod user;

pub use admin::{CreatedAccount, NewAccount};
pub use api_key::{ApiKey, ApiKeyId, ApiKeySpec};
pub use audit::{Actor, AuditEvent};
pub use identity::{CacheLimits, CacheSizes, IdentityCache};
pub use limits::{Budget, BudgetInput, BudgetPeriod, Limits, LimitsInput};
pub use ports::{
    AdminChange, ApiKeyRepo, Attempt, AttemptLimiter, ClientAddress, NewApiKey, NewRefreshToken, PasswordHasher,
    RefreshTokenRepo, Rotation, Scope, UserFilter, UserRepo, UserWriteError,
};
pub use service::{AccountPorts, Accounts, AuthPolicy, KeyPrincipal, Registration, TokenPair};
pub use token::API_KEY_PREFIX;
pub use user::{DisplayName, Email, NewUser, User, Username};

pub use crate::kernel::ids::UserId;
pub use crate::kernel::principal::{Admin, Principal, Role};
