//! The caller's own account: reading it, changing the display name and email, and changing the
//! password (which needs the current one, counts wrong ones toward the lockout, and ends every
//! session).

use crate::accounts::password::Password;
use crate::accounts::ports::{Attempt, ClientAddress, Scope};
use crate::accounts::service::{Accounts, refuse_while_barred, user_write_error};
use crate::accounts::user::{DisplayName, Email, User};
use crate::kernel::error::{AuthFailure, DomainError};
use crate::kernel::principal::Principal;

impl Accounts {
    /// The caller's own account.
    pub async fn me(&self, principal: &Principal) -> Result<User, DomainError> {
        let user = self.users.find(principal.user_id()).await?;
        user.filter(|user| user.deleted_at.is_none())
            .ok_or(DomainError::NotFound { entity: "user" })
    }

    /// Changes the caller's display name and email (`None` = keep; `Some(None)` = clear email).
    pub async fn update_me(
        &self,
        principal: &Principal,
        display_name: Option<&str>,
        email: Option<Option<&str>>,
    ) -> Result<User, DomainError> {
        let display_name = display_name.map(DisplayName::parse).transpose()?;
        let email = email.map(|email| email.map(Email::parse).transpose()).transpose()?;
        let user = self
            .users
            .update_profile(
                principal.user_id(),
                display_name.map(|name| name.as_str().to_owned()),
                email.map(|email| email.map(|email| email.as_str().to_owned())),
                self.clock.now(),
            )
            .await
            .map_err(user_write_error)?;
        Ok(self.cache.store_user(user).as_ref().clone())
    }

    /// Changes the caller's password: needs the current one, checked like a login (a wrong one
    /// counts toward the lockout; while locked every attempt gets the same answer); ends every
    /// session.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        client: &ClientAddress,
    ) -> Result<(), DomainError> {
        self.throttle(Attempt::Password, Scope::Address, client.key()).await?;
        self.throttle(Attempt::Password, Scope::Account, &principal.user_id().to_string())
            .await?;
        let user = self.me(principal).await?;
        let matches = self
            .hasher
            .verify(&Password::presented(current), &user.password_hash)
            .await?;
        let now = self.clock.now();
        refuse_while_barred(&user, now)?;
        if !matches {
            self.count_failure(&user, now).await?;
            return Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials));
        }
        let password = Password::parse_new(new, &user.username, "new_password")?;
        let hash = self.hasher.hash(&password).await?;
        let user = self.users.change_password(user.id, &hash, now).await?;
        self.cache.store_user(user);
        Ok(())
    }
}
