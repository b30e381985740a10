//! Unit tests of the store's rules, without HTTP.

use super::*;
use crate::users::model::{PermissionInput, ProfileInput, RoleInput, UserUpdate};
use crate::users::search::{DEFAULT_PER_PAGE, page_params};
use crate::users::sessions::{BAD_CREDENTIALS, SESSION_ENDED, TokenGrant};
use serde_json::json;

fn store() -> UserStore {
    UserStore::new(&UsersConfig {
        secret: Some("test-secret".into()),
        ..UsersConfig::default()
    })
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        email: format!("{name}@example.com"),
        password: format!("{name}-password"),
        full_name: format!("{name} Example"),
        is_simulation: true,
        metadata: Map::new(),
    }
}

/// Registers `name` and logs them in; returns the user, their principal and tokens.
fn member(store: &UserStore, name: &str) -> (User, Principal, TokenGrant) {
    let user = store.register(new_user(name)).unwrap();
    let grant = store.login(name, &format!("{name}-password")).unwrap();
    let principal = store.authenticate(&grant.access_token).unwrap();
    (user, principal, grant)
}

fn admin(store: &UserStore) -> Principal {
    let grant = store.login(ADMIN_USERNAME, ADMIN_PASSWORD).unwrap();
    store.authenticate(&grant.access_token).unwrap()
}

fn fields(err: StoreError) -> BTreeMap<String, String> {
    match err {
        StoreError::Invalid { fields, .. } => fields,
        other => panic!("expected a 422, got {other:?}"),
    }
}

#[test]
fn the_seed_has_three_permissions_two_roles_and_the_admin_account() {
    let store = store();
    let names = |v: Vec<String>| v.join(",");
    assert_eq!(
        names(
            store
                .permissions()
                .into_iter()
                .map(|p| format!("{}={}", p.id, p.name))
                .collect()
        ),
        "perm-1=users:read,perm-2=users:write,perm-3=roles:manage"
    );
    let roles = store.roles();
    assert_eq!(
        (roles[0].id.as_str(), roles[0].name.as_str()),
        ("role-1", "admin")
    );
    assert_eq!(roles[0].permissions, ["perm-1", "perm-2", "perm-3"]);
    assert_eq!(
        (roles[1].id.as_str(), roles[1].name.as_str()),
        ("role-2", "user")
    );
    assert_eq!(roles[1].permissions, ["perm-1"]);
    let me = store.me(&admin(&store)).unwrap();
    assert_eq!((me.id.as_str(), me.username.as_str()), ("usr-1", "admin"));
    assert!(!me.is_simulation && me.is_active);
    assert_eq!(me.roles, ["admin"]);
    assert!(store.is_admin("usr-1"));
    let stats = store.stats();
    assert_eq!(
        (
            stats.users,
            stats.roles,
            stats.permissions,
            stats.simulation_users
        ),
        (1, 2, 3, 0)
    );
}

#[test]
fn registration_stores_the_user_with_the_user_role_and_only_a_password_hash() {
    let store = store();
    let mut new = new_user("alice");
    new.metadata.insert("team".into(), json!("blue"));
    let user = store.register(new).unwrap();
    assert_eq!(user.id, "usr-2");
    assert_eq!(user.roles, ["user"]);
    assert!(user.is_simulation && user.is_active);
    assert_eq!(user.metadata["team"], "blue");
    assert!(user.created_at <= SystemTime::now());
    let dump = format!("{:?}", store.lock());
    assert!(
        !dump.contains("alice-password"),
        "password leaked into the state"
    );
    assert!(store.has_permission("usr-2", USERS_READ));
    assert!(!store.has_permission("usr-2", USERS_WRITE));
}

#[test]
fn registration_rejects_bad_fields_with_a_message_for_each() {
    let store = store();
    let new = NewUser {
        username: "x".into(),
        email: "not-an-email".into(),
        password: "short".into(),
        full_name: String::new(),
        ..NewUser::default()
    };
    let f = fields(store.register(new).unwrap_err());
    assert_eq!(f["username"], "must be 3 to 64 characters");
    assert_eq!(f["email"], "must be a valid email");
    assert_eq!(f["password"], "must be at least 8 characters");
    assert_eq!(f["full_name"], "is required");
    assert_eq!(store.stats().users, 1);
}

#[test]
fn duplicate_usernames_and_emails_conflict_whatever_their_case() {
    let store = store();
    store.register(new_user("bob")).unwrap();
    let same_name = NewUser {
        email: "other@example.com".into(),
        username: "BOB".into(),
        ..new_user("bob")
    };
    let err = store.register(same_name).unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict("username BOB is already taken".into())
    );
    let same_email = NewUser {
        email: "Bob@Example.com".into(),
        ..new_user("robert")
    };
    assert_eq!(store.register(same_email).unwrap_err().status(), 409);
    assert_eq!(store.stats().users, 2);
}

#[test]
fn login_works_by_username_or_email_and_returns_bearer_tokens() {
    let store = store();
    store.register(new_user("carol")).unwrap();
    for login in ["carol", "CAROL", "carol@example.com"] {
        let grant = store.login(login, "carol-password").unwrap();
        assert_eq!(grant.token_type, "Bearer");
        assert_eq!(grant.expires_in, 900);
        assert_eq!(grant.refresh_expires_in, 86_400);
        assert_eq!(grant.user.username, "carol");
        let who = store.authenticate(&grant.access_token).unwrap();
        assert_eq!(
            (who.user_id.as_str(), who.username.as_str()),
            ("usr-2", "carol")
        );
        assert!(!format!("{grant:?}").contains(&grant.access_token));
    }
    assert_eq!(store.stats().sessions, 3);
}

#[test]
fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let store = store();
    store.register(new_user("dave")).unwrap();
    let wrong = store.login("dave", "not-the-password").unwrap_err();
    let unknown = store.login("nobody", "dave-password").unwrap_err();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, StoreError::Unauthorized(BAD_CREDENTIALS.into()));
    let missing = fields(store.login("", "").unwrap_err());
    assert_eq!(missing["username"], "username or email is required");
    assert_eq!(missing["password"], "is required");
}

#[test]
fn deactivated_users_cannot_log_in_and_lose_their_sessions() {
    let store = store();
    let (user, _, grant) = member(&store, "erin");
    let deactivated = store.set_active(&admin(&store), &user.id, false).unwrap();
    assert!(!deactivated.is_active);
    assert_eq!(
        store
            .authenticate(&grant.access_token)
            .unwrap_err()
            .status(),
        401
    );
    let err = store.login("erin", "erin-password").unwrap_err();
    assert_eq!(err, StoreError::Forbidden("account is inactive".into()));
    // A wrong password still says 401, so inactivity does not reveal the account.
    assert_eq!(
        store.login("erin", "wrong-password").unwrap_err().status(),
        401
    );
    store.set_active(&admin(&store), &user.id, true).unwrap();
    assert!(store.login("erin", "erin-password").is_ok());
}

#[test]
fn logout_ends_the_session_so_its_tokens_are_refused() {
    let store = store();
    let (_, who, grant) = member(&store, "frank");
    let other = store.login("frank", "frank-password").unwrap();
    store.logout(&who).unwrap();
    assert_eq!(
        store.authenticate(&grant.access_token).unwrap_err(),
        StoreError::Unauthorized(SESSION_ENDED.into())
    );
    assert_eq!(
        store.refresh(&grant.refresh_token).unwrap_err().status(),
        401
    );
    assert_eq!(store.logout(&who).unwrap_err().status(), 401);
    // Other sessions of the same user are untouched.
    assert!(store.authenticate(&other.access_token).is_ok());
}

#[test]
fn refresh_rotates_the_refresh_token_and_the_used_one_is_refused() {
    let store = store();
    let (_, _, grant) = member(&store, "gina");
    let fresh = store.refresh(&grant.refresh_token).unwrap();
    assert_ne!(fresh.refresh_token, grant.refresh_token);
    assert_eq!(fresh.user.username, "gina");
    assert!(store.authenticate(&fresh.access_token).is_ok());
    assert_eq!(
        store.refresh(&grant.refresh_token).unwrap_err(),
        StoreError::Unauthorized("refresh token already used".into())
    );
    assert!(store.refresh(&fresh.refresh_token).is_ok());
    assert_eq!(store.stats().sessions, 1, "refresh keeps the session");
}

#[test]
fn access_and_refresh_tokens_cannot_stand_in_for_each_other() {
    let store = store();
    let (_, _, grant) = member(&store, "hank");
    assert_eq!(
        store.authenticate(&grant.refresh_token).unwrap_err(),
        StoreError::Unauthorized("not an access token".into())
    );
    assert_eq!(
        store.refresh(&grant.access_token).unwrap_err(),
        StoreError::Unauthorized("not a refresh token".into())
    );
    assert_eq!(store.refresh("").unwrap_err().status(), 422);
}

#[test]
fn expired_tokens_are_refused() {
    let store = store();
    let (_, _, grant) = member(&store, "ivy");
    let later = SystemTime::now() + Duration::from_secs(16 * 60);
    assert_eq!(
        store
            .authenticate_at(&grant.access_token, later)
            .unwrap_err(),
        StoreError::Unauthorized("token expired".into())
    );
    let much_later = SystemTime::now() + Duration::from_secs(25 * 3600);
    assert_eq!(
        store
            .refresh_at(&grant.refresh_token, much_later)
            .unwrap_err(),
        StoreError::Unauthorized("refresh token expired".into())
    );
    // Within the refresh lifetime a new access token can be had.
    assert!(store.refresh_at(&grant.refresh_token, later).is_ok());
}

#[test]
fn tokens_from_another_store_or_tampered_ones_are_refused() {
    let a = store();
    let b = UserStore::default();
    let (_, _, grant) = member(&a, "jack");
    assert_eq!(
        b.authenticate(&grant.access_token).unwrap_err(),
        StoreError::Unauthorized("invalid token".into())
    );
    let mut tampered = grant.access_token.clone();
    tampered.push('x');
    assert_eq!(a.authenticate(&tampered).unwrap_err().status(), 401);
    // Same secret, other process: the signature is good but the session is unknown.
    let c = store();
    assert_eq!(
        c.authenticate(&grant.access_token).unwrap_err(),
        StoreError::Unauthorized(SESSION_ENDED.into())
    );
}

#[test]
fn role_and_permission_writes_need_the_admin_role() {
    let store = store();
    let (_, who, _) = member(&store, "kate");
    let input = RoleInput {
        name: Some("auditor".into()),
        ..RoleInput::default()
    };
    assert_eq!(
        store.create_role(&who, input.clone()).unwrap_err().status(),
        403
    );
    assert_eq!(
        store
            .update_role(&who, "role-2", input.clone())
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(store.delete_role(&who, "role-2").unwrap_err().status(), 403);
    let perm = PermissionInput {
        name: Some("reports:read".into()),
        description: None,
    };
    assert_eq!(
        store
            .create_permission(&who, perm.clone())
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        store
            .delete_permission(&who, "perm-1")
            .unwrap_err()
            .status(),
        403
    );

    let admin = admin(&store);
    let p = store.create_permission(&admin, perm.clone()).unwrap();
    assert_eq!(p.id, "perm-4");
    assert_eq!(
        store.create_permission(&admin, perm).unwrap_err().status(),
        409
    );
    let role = store
        .create_role(
            &admin,
            RoleInput {
                permissions: Some(vec![p.id.clone(), p.id.clone(), "perm-1".into()]),
                ..input.clone()
            },
        )
        .unwrap();
    assert_eq!(
        (role.id.as_str(), role.permissions.clone()),
        ("role-3", vec![p.id, "perm-1".into()])
    );
    assert_eq!(store.create_role(&admin, input).unwrap_err().status(), 409);
    assert_eq!(store.stats().roles, 3);
}

#[test]
fn roles_with_unknown_permission_ids_or_no_name_are_422() {
    let store = store();
    let admin = admin(&store);
    let bad = RoleInput {
        name: Some("r1".into()),
        permissions: Some(vec!["perm-1".into(), "perm-99".into()]),
        ..RoleInput::default()
    };
    assert_eq!(
        fields(store.create_role(&admin, bad.clone()).unwrap_err())["permissions"],
        "unknown permission id perm-99"
    );
    assert_eq!(
        fields(store.update_role(&admin, "role-2", bad).unwrap_err())["permissions"],
        "unknown permission id perm-99"
    );
    assert_eq!(
        fields(store.create_role(&admin, RoleInput::default()).unwrap_err())["name"],
        "is required"
    );
    assert_eq!(store.role("role-2").unwrap().permissions, ["perm-1"]);
    assert_eq!(store.role("role-9").unwrap_err().status(), 404);
    assert_eq!(store.role("bogus").unwrap_err().status(), 404);
}

#[test]
fn assigning_grants_permissions_and_revoking_takes_them_away() {
    let store = store();
    let (user, who, _) = member(&store, "liam");
    let admin = admin(&store);
    assert!(!store.has_permission(&user.id, USERS_WRITE));
    assert_eq!(
        store
            .assign_role(&who, &user.id, "role-1")
            .unwrap_err()
            .status(),
        403
    );
    let role = store.assign_role(&admin, &user.id, "role-1").unwrap();
    assert_eq!(role.name, "admin");
    assert!(store.has_permission(&user.id, USERS_WRITE) && store.is_admin(&user.id));
    assert_eq!(
        store
            .assign_role(&admin, &user.id, "role-1")
            .unwrap_err()
            .status(),
        409
    );
    assert_eq!(
        store
            .assign_role(&admin, &user.id, "user")
            .unwrap_err()
            .status(),
        422
    );
    assert_eq!(
        store
            .assign_role(&admin, "usr-99", "role-1")
            .unwrap_err()
            .status(),
        404
    );
    let names: Vec<_> = store
        .user_roles(&who, &user.id)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["admin", "user"]);
    store.revoke_role(&admin, &user.id, "role-1").unwrap();
    assert!(!store.has_permission(&user.id, USERS_WRITE));
    assert_eq!(
        store
            .revoke_role(&admin, &user.id, "role-1")
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(
        store
            .revoke_role(&who, &user.id, "role-2")
            .unwrap_err()
            .status(),
        403
    );
}

#[test]
fn deleting_a_user_cascades_to_profile_role_assignments_and_sessions() {
    let store = store();
    let (user, who, grant) = member(&store, "mia");
    store
        .create_profile(&who, &user.id, ProfileInput::default())
        .unwrap();
    store
        .assign_role(&admin(&store), &user.id, "role-1")
        .unwrap();
    let before = store.stats();
    assert_eq!((before.users, before.profiles, before.sessions), (2, 1, 2));
    store.delete_user(&who, &user.id).unwrap();
    let after = store.stats();
    assert_eq!(
        (
            after.users,
            after.profiles,
            after.sessions,
            after.simulation_users
        ),
        (1, 0, 1, 0)
    );
    assert_eq!(
        store
            .authenticate(&grant.access_token)
            .unwrap_err()
            .status(),
        401
    );
    assert!(!store.is_admin(&user.id));
    // The name and email are free again, and the new user does not inherit anything.
    let again = store.register(new_user("mia")).unwrap();
    assert_eq!(
        (again.id.as_str(), again.roles.clone()),
        ("usr-3", vec!["user".to_owned()])
    );
}

#[test]
fn deleting_roles_and_permissions_cascades_and_keeps_the_admin_role() {
    let store = store();
    let (user, _, _) = member(&store, "noah");
    let admin = admin(&store);
    assert_eq!(
        store.delete_role(&admin, "role-1").unwrap_err().status(),
        409
    );
    store.delete_permission(&admin, "perm-1").unwrap();
    assert_eq!(
        store.role("role-1").unwrap().permissions,
        ["perm-2", "perm-3"]
    );
    assert!(!store.has_permission(&user.id, USERS_READ));
    store.delete_role(&admin, "role-2").unwrap();
    assert!(store.user_roles(&admin, &user.id).unwrap().is_empty());
    assert_eq!(
        store.delete_role(&admin, "role-2").unwrap_err().status(),
        404
    );
    // Without the user role, new registrations simply get no role.
    assert!(store.register(new_user("olga")).unwrap().roles.is_empty());
}

#[test]
fn reading_others_needs_users_read_but_reading_yourself_always_works() {
    let store = store();
    let (user, who, _) = member(&store, "paul");
    assert_eq!(store.user(&who, "usr-1").unwrap().username, "admin");
    assert_eq!(
        store.user_by_email(&who, "ADMIN@example.com").unwrap().id,
        "usr-1"
    );
    assert_eq!(store.user_by_username(&who, "Admin").unwrap().id, "usr-1");
    assert_eq!(store.user(&who, "usr-404").unwrap_err().status(), 404);
    assert_eq!(
        store.user_by_email(&who, "x@y.z").unwrap_err().status(),
        404
    );
    store
        .revoke_role(&admin(&store), &user.id, "role-2")
        .unwrap();
    assert_eq!(store.user(&who, "usr-1").unwrap_err().status(), 403);
    assert_eq!(store.list_users(&who, 1, 20).unwrap_err().status(), 403);
    assert_eq!(store.user(&who, &user.id).unwrap().id, user.id);
    assert_eq!(store.user_by_username(&who, "paul").unwrap().id, user.id);
    assert_eq!(store.me(&who).unwrap().id, user.id);
}

#[test]
fn only_yourself_or_users_write_may_change_a_user() {
    let store = store();
    let (a, who_a, _) = member(&store, "quinn");
    let (b, _, _) = member(&store, "rita");
    let update = UserUpdate {
        full_name: Some("Quinn Q".into()),
        ..UserUpdate::default()
    };
    assert_eq!(
        store
            .update_user(&who_a, &b.id, update.clone())
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(store.delete_user(&who_a, &b.id).unwrap_err().status(), 403);
    assert_eq!(
        store.set_active(&who_a, &b.id, false).unwrap_err().status(),
        403
    );
    assert_eq!(
        store.update_user(&who_a, &a.id, update).unwrap().full_name,
        "Quinn Q"
    );
    let taken = UserUpdate {
        email: Some("RITA@example.com".into()),
        ..UserUpdate::default()
    };
    assert_eq!(
        store
            .update_user(&who_a, &a.id, taken)
            .unwrap_err()
            .status(),
        409
    );
    let bad = UserUpdate {
        email: Some("nope".into()),
        full_name: Some(" ".into()),
        ..UserUpdate::default()
    };
    let f = fields(store.update_user(&who_a, &a.id, bad).unwrap_err());
    assert_eq!(
        (f["email"].as_str(), f["full_name"].as_str()),
        ("must be a valid email", "is required")
    );
    let moved = UserUpdate {
        email: Some("q@new.example.com".into()),
        metadata: Some(Map::from_iter([("k".to_owned(), json!(1))])),
        ..UserUpdate::default()
    };
    let updated = store.update_user(&admin(&store), &a.id, moved).unwrap();
    assert_eq!(
        (updated.email.as_str(), &updated.metadata["k"]),
        ("q@new.example.com", &json!(1))
    );
    assert!(store.login("q@new.example.com", "quinn-password").is_ok());
    assert_eq!(
        store
            .login("quinn@example.com", "quinn-password")
            .unwrap_err()
            .status(),
        401
    );
}

#[test]
fn profiles_are_private_unless_admin_and_there_is_at_most_one() {
    let store = store();
    let (a, who_a, _) = member(&store, "sam");
    let (b, who_b, _) = member(&store, "tess");
    assert_eq!(store.profile(&who_a, &a.id).unwrap_err().status(), 404);
    let input = ProfileInput {
        bio: Some("hello".into()),
        avatar_url: Some("https://img.example.com/sam.png".into()),
        preferences: Some(Map::from_iter([("theme".to_owned(), json!("dark"))])),
    };
    let created = store.create_profile(&who_a, &a.id, input.clone()).unwrap();
    assert_eq!(
        (created.user_id.as_str(), created.bio.as_str()),
        (a.id.as_str(), "hello")
    );
    assert_eq!(
        store
            .create_profile(&who_a, &a.id, input.clone())
            .unwrap_err()
            .status(),
        409
    );
    assert_eq!(store.profile(&who_b, &a.id).unwrap_err().status(), 403);
    assert_eq!(
        store
            .create_profile(&who_b, &a.id, input.clone())
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        store.delete_profile(&who_b, &a.id).unwrap_err().status(),
        403
    );
    let admin = admin(&store);
    assert_eq!(
        store.profile(&admin, &a.id).unwrap().preferences["theme"],
        "dark"
    );
    let changed = store
        .update_profile(
            &admin,
            &a.id,
            ProfileInput {
                bio: Some("edited".into()),
                ..ProfileInput::default()
            },
        )
        .unwrap();
    assert_eq!(
        (changed.bio.as_str(), changed.avatar_url.as_deref()),
        ("edited", input.avatar_url.as_deref())
    );
    assert_eq!(
        store
            .update_profile(&who_b, &b.id, ProfileInput::default())
            .unwrap_err()
            .status(),
        404
    );
    let bad = ProfileInput {
        avatar_url: Some("javascript:1".into()),
        ..ProfileInput::default()
    };
    assert_eq!(
        store
            .create_profile(&who_b, &b.id, bad)
            .unwrap_err()
            .status(),
        422
    );
    store.delete_profile(&who_a, &a.id).unwrap();
    assert_eq!(
        store.delete_profile(&who_a, &a.id).unwrap_err().status(),
        404
    );
    assert_eq!(store.profile(&admin, "usr-99").unwrap_err().status(), 404);
}

#[test]
fn changing_a_password_needs_the_current_one_and_is_for_yourself_only() {
    let store = store();
    let (a, who_a, _) = member(&store, "uma");
    assert_eq!(
        store
            .change_password(&admin(&store), &a.id, "uma-password", "new-password-1")
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        store
            .change_password(&who_a, &a.id, "wrong-current", "new-password-1")
            .unwrap_err(),
        StoreError::BadRequest("current password is incorrect".into())
    );
    let f = fields(
        store
            .change_password(&who_a, &a.id, "", "short")
            .unwrap_err(),
    );
    assert_eq!(
        (f["current_password"].as_str(), f["new_password"].as_str()),
        ("is required", "must be at least 8 characters")
    );
    store
        .change_password(&who_a, &a.id, "uma-password", "new-password-1")
        .unwrap();
    assert_eq!(
        store.login("uma", "uma-password").unwrap_err().status(),
        401
    );
    assert!(store.login("uma", "new-password-1").is_ok());
}

#[test]
fn a_reset_gives_a_working_temporary_password_and_ends_sessions() {
    let store = store();
    let (a, who_a, grant) = member(&store, "vera");
    assert_eq!(
        store.reset_password(&who_a, &a.id).unwrap_err().status(),
        403
    );
    let admin = admin(&store);
    assert_eq!(
        store.reset_password(&admin, "usr-99").unwrap_err().status(),
        404
    );
    let temporary = store.reset_password(&admin, &a.id).unwrap();
    assert_eq!(temporary.len(), 16);
    assert_eq!(
        store
            .authenticate(&grant.access_token)
            .unwrap_err()
            .status(),
        401
    );
    assert_eq!(
        store.login("vera", "vera-password").unwrap_err().status(),
        401
    );
    assert!(store.login("vera", &temporary).is_ok());
}

#[test]
fn listings_page_in_creation_order_and_search_matches_any_case() {
    let store = store();
    let (walt, who, _) = member(&store, "walt");
    for name in ["xena", "yara", "zack"] {
        store.register(new_user(name)).unwrap();
    }
    let page = store.list_users(&who, 2, 2).unwrap();
    let ids: Vec<_> = page.items.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(
        (ids, page.page, page.per_page, page.total),
        (vec!["usr-3", "usr-4"], 2, 2, 5)
    );
    assert!(store.list_users(&who, 9, 2).unwrap().items.is_empty());
    let hits = store.search_users(&who, "YA", 1, 20).unwrap();
    assert_eq!(
        hits.items
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["yara"]
    );
    assert_eq!(
        store.search_users(&who, "example.com", 1, 2).unwrap().total,
        5
    );
    assert_eq!(store.search_users(&who, "Zack Ex", 1, 20).unwrap().total, 1);
    let second = store.search_users(&who, "example.com", 2, 2).unwrap();
    let ids: Vec<_> = second.items.iter().map(|u| u.id.as_str()).collect();
    assert_eq!((ids, second.total), (vec!["usr-3", "usr-4"], 5), "paged");
    let mut accented = new_user("zoe");
    accented.full_name = "ÉLODIE Ñúñez".into();
    store.register(accented).unwrap();
    let hits = store.search_users(&who, "élodie ñ", 1, 20).unwrap();
    assert_eq!(hits.items[0].username, "zoe", "any case beyond ASCII too");
    let renamed = UserUpdate {
        full_name: Some("Quentin Quill".into()),
        ..UserUpdate::default()
    };
    store.update_user(&who, &walt.id, renamed).unwrap();
    let search = |q: &str| store.search_users(&who, q, 1, 20).unwrap().total;
    assert_eq!((search("QUILL"), search("walt example")), (1, 0), "renamed");
    assert_eq!(
        fields(store.search_users(&who, " ", 1, 20).unwrap_err())["q"],
        "is required"
    );
}

#[test]
fn page_parameters_must_be_in_range() {
    assert_eq!(page_params(None, None), Ok((1, DEFAULT_PER_PAGE)));
    assert_eq!(page_params(Some("3"), Some("100")), Ok((3, 100)));
    let f = fields(page_params(Some("0"), Some("101")).unwrap_err());
    assert!(f.contains_key("page") && f.contains_key("per_page"));
    assert!(page_params(Some("x"), None).is_err());
}

#[test]
fn stats_count_simulation_users_sessions_and_requests() {
    let store = store();
    member(&store, "abby");
    let mut real = new_user("bert");
    real.is_simulation = false;
    store.register(real).unwrap();
    store.note_request(Some("GET /api/v1/users".into()));
    store.note_request(Some("GET /api/v1/users".into()));
    store.note_request(None);
    let stats = store.stats();
    assert_eq!(
        (stats.users, stats.simulation_users, stats.sessions),
        (3, 1, 1)
    );
    assert_eq!(stats.requests_by_endpoint["GET /api/v1/users"], 2);
    assert_eq!(stats.requests_total, 3);
}

#[test]
fn ids_must_be_spelled_canonically() {
    assert_eq!(parse_id("usr-7", USER_PREFIX), Some(7));
    assert_eq!(parse_id("usr-07", USER_PREFIX), None);
    assert_eq!(parse_id("role-1", USER_PREFIX), None);
    assert_eq!(parse_id("usr-", USER_PREFIX), None);
}

#[test]
fn cloned_stores_share_state() {
    let store = store();
    let other = store.clone();
    other.register(new_user("cleo")).unwrap();
    assert_eq!(store.stats().users, 2);
}
