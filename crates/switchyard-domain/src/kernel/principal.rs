//! Who is calling: the [`Principal`] of an access token, and [`Admin`], the proof of admin rights
//! that every admin-only use case takes. Only [`Principal::admin`] (a user whose current role is
//! admin) and [`Admin::operator`] (the operator's commands on the server's own machine) build one,
//! so a use case cannot be reached without the check.

use crate::kernel::error::{DomainError, Refusal};
use crate::kernel::ids::UserId;
use crate::kernel::named::named_enum;

named_enum!(
    /// What a user may do.
    Role, "role", "invalid_role" {
        Admin => "admin",
        User => "user",
    }
);

/// Who is calling, from an access token. Only the domain builds one (the accounts context, from a
/// checked token and the user's current state), so no outer crate can make itself an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    user_id: UserId,
    /// The role now (not when the token was issued).
    role: Role,
}

impl Principal {
    pub(crate) fn new(user_id: UserId, role: Role) -> Self {
        Self { user_id, role }
    }

    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The proof of admin rights, when the caller's current role is admin.
    pub fn admin(&self) -> Result<Admin, DomainError> {
        match self.role {
            Role::Admin => Ok(Admin {
                user_id: Some(self.user_id),
            }),
            Role::User => Err(DomainError::Forbidden(Refusal::AdminOnly)),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Proof that the caller holds admin rights. It has no public constructor but the two checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admin {
    /// The admin user; `None` for the operator.
    user_id: Option<UserId>,
}

impl Admin {
    /// The operator running `switchyard admin | catalog | secrets …` on the server's machine:
    /// whoever can run them holds the database and its master key already. Only the server
    /// crate's command-line code calls this (`cargo xtask tidy` checks).
    pub fn operator() -> Self {
        Self { user_id: None }
    }

    /// The admin user acting, for the audit trail; `None` for the operator.
    pub fn user_id(&self) -> Option<UserId> {
        self.user_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_principal_whose_role_is_admin_gets_the_proof() {
        let user_id = UserId::new();
        let admin = Principal::new(user_id, Role::Admin);
        assert_eq!(admin.admin().map(|proof| proof.user_id()), Ok(Some(user_id)));
        let user = Principal::new(user_id, Role::User);
        assert_eq!(user.admin(), Err(DomainError::Forbidden(Refusal::AdminOnly)));
        assert_eq!(Admin::operator().user_id(), None);
    }
}
