//! Admin use cases on users: creating accounts, listing and reading them, changing their state
//! (audited, never leaving the platform without an active admin), resetting passwords, and the
//! audit trail. Each takes the proof of admin rights.

use crate::accounts::audit::{Actor, AuditEvent};
use crate::accounts::limits::{Limits, LimitsInput};
use crate::accounts::password::Password;
use crate::accounts::ports::{AdminChange, Attempt, ClientAddress, Scope, UserFilter};
use crate::accounts::service::{Accounts, Registration, user_write_error};
use crate::accounts::token::random_base62;
use crate::accounts::user::User;
use crate::kernel::error::DomainError;
use crate::kernel::ids::UserId;
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::principal::{Admin, Role};

/// The length of a generated password: 24 base62 characters carry 142 bits.
pub const GENERATED_PASSWORD_CHARS: usize = 24;

/// An account an admin creates.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub display_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub role: Role,
    /// `None`: generate one, returned once in [`CreatedAccount::generated_password`].
    pub password: Option<&'a str>,
}

/// A created account, with its password when it was generated (shown once, never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedAccount {
    pub user: User,
    pub generated_password: Option<String>,
}

impl Accounts {
    /// Creates an account, audited as `user.create` in the same transaction. Registration's
    /// rules hold; a taken username or email is a conflict. It hashes a password, so it is
    /// counted like a password reset.
    pub async fn create_account(
        &self,
        admin: &Admin,
        client: &ClientAddress,
        request_id: Option<String>,
        account: NewAccount<'_>,
    ) -> Result<CreatedAccount, DomainError> {
        self.throttle_password(admin, client).await?;
        let (password, generated_password) = match account.password {
            Some(password) => (password.to_owned(), None),
            None => {
                let generated = random_base62(GENERATED_PASSWORD_CHARS);
                (generated.clone(), Some(generated))
            }
        };
        let registration = Registration {
            username: account.username,
            display_name: account.display_name,
            email: account.email,
            password: &password,
        };
        let new = self.new_user(registration, account.role).await?;
        let user = self
            .users
            .create(&new, Some(&Actor::new(admin, request_id)))
            .await
            .map_err(user_write_error)?;
        Ok(CreatedAccount {
            user,
            generated_password,
        })
    }

    pub async fn list_users(
        &self,
        _admin: &Admin,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, DomainError> {
        Ok(self.users.list(filter, page).await?)
    }

    /// Any user, deleted ones included (admins see them).
    pub async fn get_user(&self, _admin: &Admin, id: UserId) -> Result<User, DomainError> {
        self.users
            .find(id)
            .await?
            .ok_or(DomainError::NotFound { entity: "user" })
    }

    /// Replaces a user's rate limits and budget (the ceiling of their keys' limits).
    pub async fn set_user_limits(&self, _admin: &Admin, id: UserId, input: LimitsInput) -> Result<User, DomainError> {
        let limits = Limits::for_user(input)?;
        let user = self
            .users
            .set_limits(id, &limits, self.clock.now())
            .await?
            .ok_or(DomainError::NotFound { entity: "user" })?;
        Ok(self.cache.store_user(user).as_ref().clone())
    }

    /// Applies an admin change, audited, never leaving the platform without an active admin.
    pub async fn change_user(
        &self,
        admin: &Admin,
        request_id: Option<String>,
        id: UserId,
        change: AdminChange,
    ) -> Result<User, DomainError> {
        let user = self
            .users
            .admin_change(id, &change, &Actor::new(admin, request_id), self.clock.now())
            .await
            .map_err(user_write_error)?;
        Ok(self.cache.store_user(user).as_ref().clone())
    }

    /// Sets a user's password (checked against the rules); ends their sessions. Counted per
    /// address and per admin, like every route that runs bcrypt.
    pub async fn reset_password(
        &self,
        admin: &Admin,
        client: &ClientAddress,
        request_id: Option<String>,
        id: UserId,
        new_password: &str,
    ) -> Result<User, DomainError> {
        self.throttle_password(admin, client).await?;
        let target = self.get_user(admin, id).await?;
        let password = Password::parse_new(new_password, &target.username, "password")?;
        let hash = self.hasher.hash(&password).await?;
        self.change_user(admin, request_id, id, AdminChange::SetPassword { hash })
            .await
    }

    /// An admin's bcrypt work is counted per address and per admin (the operator is one).
    async fn throttle_password(&self, admin: &Admin, client: &ClientAddress) -> Result<(), DomainError> {
        self.throttle(Attempt::Password, Scope::Address, client.key()).await?;
        let acting = admin
            .user_id()
            .map_or_else(|| "operator".to_owned(), |id| id.to_string());
        self.throttle(Attempt::Password, Scope::Account, &acting).await
    }

    pub async fn audit_events(&self, _admin: &Admin, page: PageRequest) -> Result<Page<AuditEvent>, DomainError> {
        Ok(self.users.audit_events(page).await?)
    }
}
