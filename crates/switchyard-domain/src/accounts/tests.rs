//! Unit tests of the account use cases over in-memory fakes of their ports: login and the
//! lockout, refresh rotation and reuse, the attempt limits, and the identity cache's memory of
//! unknown keys. No database, no network, a manual clock.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{Duration, TimeZone, Utc};

use crate::accounts::admin::NewAccount;
use crate::accounts::api_key::{ApiKey, ApiKeyId};
use crate::accounts::fakes::{CountingHasher, FixedLimiter, MemoryStore};
use crate::accounts::identity::CacheLimits;
use crate::accounts::ports::{AdminChange, Attempt, ClientAddress, Scope};
use crate::accounts::service::{AccountPorts, Accounts, AuthPolicy, TokenPair};
use crate::accounts::token::{TokenKeys, sha256_hex};
use crate::kernel::clock::ManualClock;
use crate::kernel::error::{AuthFailure, DomainError, Refusal};
use crate::kernel::ids::UserId;
use crate::kernel::ports::Clock;
use crate::kernel::principal::{Admin, Principal, Role};

const PASSWORD: &str = "correct horse battery staple";

struct World {
    accounts: Accounts,
    store: Arc<MemoryStore>,
    hasher: Arc<CountingHasher>,
    limiter: Arc<FixedLimiter>,
    clock: Arc<ManualClock>,
    client: ClientAddress,
}

async fn world(limit: usize) -> World {
    let store = Arc::new(MemoryStore::default());
    let hasher = Arc::new(CountingHasher::default());
    let limiter = Arc::new(FixedLimiter::new(limit));
    let start = Utc
        .with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
        .single()
        .expect("a valid instant");
    let clock = Arc::new(ManualClock::new(start));
    let ports = AccountPorts {
        users: store.clone(),
        refresh_tokens: store.clone(),
        keys: store.clone(),
        hasher: hasher.clone(),
        limiter: limiter.clone(),
        clock: clock.clone(),
    };
    let keys = TokenKeys::new(&[7; 32], "switchyard", "switchyard", Duration::minutes(15)).expect("token keys");
    let policy = AuthPolicy {
        allow_registration: true,
        max_failed_logins: 5,
        lockout_duration: Duration::minutes(15),
        refresh_ttl: Duration::days(30),
        refresh_reuse_grace: Duration::seconds(10),
        identity_cache: CacheLimits::default(),
    };
    let accounts = Accounts::new(ports, keys, policy).await.expect("accounts");
    World {
        accounts,
        store,
        hasher,
        limiter,
        clock,
        client: ClientAddress(Some("203.0.113.7".to_owned())),
    }
}

impl World {
    async fn user(&self, username: &str, role: Role) -> UserId {
        let account = NewAccount {
            username,
            display_name: None,
            email: None,
            role,
            password: Some(PASSWORD),
        };
        let created = self
            .accounts
            .create_account(&Admin::operator(), &ClientAddress(None), None, account)
            .await;
        created.expect("an account").user.id
    }

    async fn login(&self, username: &str, password: &str) -> Result<TokenPair, DomainError> {
        self.accounts.login(username, password, &self.client).await
    }

    async fn fail_logins(&self, username: &str, times: usize) {
        for _ in 0..times {
            let outcome = self.login(username, "a wrong guess").await;
            assert_eq!(
                outcome,
                Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials))
            );
        }
    }
}

#[tokio::test]
async fn a_login_hands_out_tokens_that_authenticate_the_user() {
    let world = world(1000).await;
    let id = world.user("alice", Role::User).await;
    let pair = world.login("ALICE", PASSWORD).await.expect("a login");
    let principal = world
        .accounts
        .authenticate(&pair.access_token)
        .await
        .expect("a principal");
    assert_eq!(principal, Principal::new(id, Role::User));
    assert_eq!(world.store.user(id).last_login_at, Some(world.clock.now()));
}

#[tokio::test]
async fn a_locked_account_answers_the_same_whatever_the_password_after_the_same_work() {
    let world = world(1000).await;
    let id = world.user("bob", Role::User).await;
    world.fail_logins("bob", 5).await;
    let locked = DomainError::Forbidden(Refusal::AccountLocked {
        until: Some(world.clock.now() + Duration::minutes(15)),
    });
    for password in [PASSWORD, "a wrong guess", "another guess"] {
        let before = world.hasher.verifications.load(Ordering::SeqCst);
        assert_eq!(world.login("bob", password).await, Err(locked.clone()), "{password}");
        assert_eq!(
            world.hasher.verifications.load(Ordering::SeqCst),
            before + 1,
            "one bcrypt check each"
        );
    }
    assert_eq!(
        world.store.user(id).failed_login_attempts,
        0,
        "attempts during the lock are not counted"
    );

    world.clock.advance(Duration::minutes(16));
    world.login("bob", PASSWORD).await.expect("the lock lifted itself");
    assert!(!world.store.user(id).is_locked);
}

#[tokio::test]
async fn a_deactivated_account_answers_the_same_whatever_the_password() {
    let world = world(1000).await;
    let id = world.user("carl", Role::User).await;
    let change = AdminChange::Deactivate;
    let actor = crate::accounts::audit::Actor::new(&Admin::operator(), None);
    crate::accounts::ports::UserRepo::admin_change(world.store.as_ref(), id, &change, &actor, world.clock.now())
        .await
        .expect("deactivated");
    let disabled = Err(DomainError::Forbidden(Refusal::AccountDisabled));
    assert_eq!(world.login("carl", PASSWORD).await, disabled);
    assert_eq!(world.login("carl", "a wrong guess").await, disabled);
}

#[tokio::test]
async fn refresh_rotates_a_retry_gets_the_same_successor_and_a_late_reuse_ends_the_session() {
    let world = world(1000).await;
    world.user("dana", Role::User).await;
    let first = world.login("dana", PASSWORD).await.expect("a login");
    let second = world
        .accounts
        .refresh(&first.refresh_token, &world.client)
        .await
        .expect("rotated");
    assert_ne!(second.refresh_token, first.refresh_token);
    let retried = world
        .accounts
        .refresh(&first.refresh_token, &world.client)
        .await
        .expect("a retry");
    assert_eq!(retried.refresh_token, second.refresh_token);

    world.clock.advance(Duration::seconds(30));
    let invalid = Err(DomainError::Unauthenticated(AuthFailure::InvalidRefreshToken));
    assert_eq!(
        world.accounts.refresh(&first.refresh_token, &world.client).await,
        invalid
    );
    assert_eq!(
        world.accounts.refresh(&second.refresh_token, &world.client).await,
        invalid,
        "the reuse revoked the whole family"
    );
}

#[tokio::test]
async fn a_lockout_leaves_refresh_working_and_a_refused_refresh_leaves_the_token_unspent() {
    let world = world(1000).await;
    let id = world.user("emil", Role::User).await;
    let pair = world.login("emil", PASSWORD).await.expect("a login");
    world.fail_logins("emil", 5).await;
    world.accounts.identity_cache().forget_user(id);
    let next = world
        .accounts
        .refresh(&pair.refresh_token, &world.client)
        .await
        .expect("refresh works while locked");

    // A state that refuses sessions, without the writes that would revoke the tokens: the
    // refresh is refused before the token is spent.
    world.store.with(|state| {
        let user = state.users.iter_mut().find(|user| user.id == id).expect("the user");
        user.is_active = false;
    });
    world.accounts.identity_cache().forget_user(id);
    let invalid = Err(DomainError::Unauthenticated(AuthFailure::InvalidRefreshToken));
    assert_eq!(
        world.accounts.refresh(&next.refresh_token, &world.client).await,
        invalid
    );
    let hash = sha256_hex(&next.refresh_token);
    let spent = world
        .store
        .with(|state| state.tokens.iter().find(|token| token.hash == hash).map(|t| t.used_at));
    assert_eq!(spent, Some(None), "not spent");
}

#[tokio::test]
async fn attempts_are_counted_per_address_and_per_typed_account_before_any_work() {
    let world = world(2).await;
    world.user("fay", Role::User).await;
    world.fail_logins("fay", 2).await;
    let limited = Err(DomainError::RateLimited {
        retry_after_seconds: 30,
    });
    let before = world.hasher.verifications.load(Ordering::SeqCst);
    assert_eq!(
        world.login("fay", PASSWORD).await,
        limited,
        "a third try from the same address"
    );
    assert_eq!(
        world.hasher.verifications.load(Ordering::SeqCst),
        before,
        "no bcrypt work once limited"
    );
    assert_eq!(world.limiter.count(Attempt::Login, Scope::Address, "203.0.113.7"), 3);

    // From another address, the account's own limit holds, whatever the case or spacing typed.
    let elsewhere = ClientAddress(Some("198.51.100.9".to_owned()));
    let outcome = world.accounts.login(" FAY ", PASSWORD, &elsewhere).await;
    assert_eq!(outcome, limited, "a third try for the account");
    assert_eq!(world.limiter.count(Attempt::Login, Scope::Account, "fay"), 3);
    let other = world.accounts.login("someone-else", PASSWORD, &elsewhere).await;
    assert_eq!(
        other,
        Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials)),
        "another account is not held back"
    );

    // Unknown addresses share one bucket.
    let unknown = ClientAddress(None);
    assert_eq!(unknown.key(), "unknown");
    for _ in 0..2 {
        assert!(world.accounts.refresh("syr_nothing", &unknown).await.is_err());
    }
    assert_eq!(
        world.accounts.refresh("syr_nothing", &unknown).await,
        Err(DomainError::RateLimited {
            retry_after_seconds: 30
        })
    );
}

#[tokio::test]
async fn a_wrong_current_password_counts_toward_the_lockout() {
    let world = world(1000).await;
    let id = world.user("gus", Role::User).await;
    let principal = Principal::new(id, Role::User);
    for _ in 0..5 {
        let outcome = world
            .accounts
            .change_password(&principal, "a wrong guess", "a new passphrase", &world.client)
            .await;
        assert_eq!(
            outcome,
            Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials))
        );
    }
    assert!(world.store.user(id).lock_in_force(world.clock.now()));
    let outcome = world
        .accounts
        .change_password(&principal, PASSWORD, "a new passphrase", &world.client)
        .await;
    assert!(
        matches!(outcome, Err(DomainError::Forbidden(Refusal::AccountLocked { .. }))),
        "{outcome:?}"
    );
}

fn key_with_hash(hash: &str, user_id: UserId, now: chrono::DateTime<Utc>) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new(),
        user_id,
        name: "ci".to_owned(),
        prefix: "abcdefgh".to_owned(),
        key_hash: hash.to_owned(),
        allowed_models: vec![],
        limits: crate::accounts::limits::Limits::default(),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

#[tokio::test]
async fn an_unknown_key_is_looked_up_once_until_its_memory_expires_or_the_key_is_made() {
    let world = world(1000).await;
    let id = world.user("hana", Role::User).await;
    let secret = format!("sy-{}", "u".repeat(43));
    let lookups = || world.store.key_lookups.load(Ordering::SeqCst);
    for _ in 0..3 {
        let refused = world.accounts.authenticate_key(&secret).await;
        assert_eq!(refused, Err(DomainError::Unauthenticated(AuthFailure::InvalidApiKey)));
    }
    assert_eq!(lookups(), 1);
    world
        .clock
        .advance(CacheLimits::default().unknown_key_ttl + Duration::seconds(1));
    assert!(world.accounts.authenticate_key(&secret).await.is_err());
    assert_eq!(lookups(), 2, "the memory of an unknown key expires");

    // A key made on this instance with that hash is no longer unknown, and answered from memory.
    let cache = world.accounts.identity_cache();
    let key = key_with_hash(&sha256_hex(&secret), id, world.clock.now());
    world.store.with(|state| state.keys.push(key.clone()));
    cache.store_key(key);
    let principal = world.accounts.authenticate_key(&secret).await.expect("the key works");
    assert_eq!(principal.user_id, id);
    assert_eq!(lookups(), 2, "answered from memory");

    // One made by another instance: the refresher's pass over changed keys forgets the hash
    // was unknown, so the next request looks it up.
    let elsewhere = format!("sy-{}", "e".repeat(43));
    assert!(world.accounts.authenticate_key(&elsewhere).await.is_err());
    assert_eq!(lookups(), 3);
    let since = world.clock.now();
    let key = key_with_hash(&sha256_hex(&elsewhere), id, world.clock.now());
    world.store.with(|state| state.keys.push(key));
    assert!(cache.refresh_changed(since).await.expect("a refresh") >= 1);
    world
        .accounts
        .authenticate_key(&elsewhere)
        .await
        .expect("the key made elsewhere works");
    assert_eq!(lookups(), 4, "looked up again after the refresher's pass");
}

#[tokio::test]
async fn the_identity_cache_keeps_the_newer_state_of_a_user() {
    let world = world(1000).await;
    let id = world.user("ivan", Role::User).await;
    let cache = world.accounts.identity_cache();
    let older = world.store.user(id);
    let mut newer = older.clone();
    newer.token_version += 1;
    newer.updated_at = older.updated_at + Duration::seconds(1);
    cache.store_user(newer.clone());
    assert_eq!(*cache.store_user(older), newer, "a stale load does not undo a write");
    assert_eq!(cache.user(id).await.expect("a user").as_deref(), Some(&newer));
}
