//! The configuration's validation: errors name the field, secrets stay out of `Debug`,
//! insecure transports are refused.

use super::*;

const MINIMAL: &str = r#"
[server]
s3_listen = "127.0.0.1:0"
region = "eu-sovereign-1"
default_policy = "eu"
[metadata]
engine = "memory"
[keys]
provider = "local"
key_file = "kek"
[[provider]]
id = "de"
kind = "fs"
path = "p/de"
country = "DE"
operator = "DE op"
[[policy]]
id = "eu"
replicas = 1
write_quorum = 1
[[access_key]]
id = "ak"
secret = "sk"
"#;

#[test]
fn minimal_config_is_valid() {
    let c = Config::parse(MINIMAL, Path::new("/base")).unwrap();
    assert!(matches!(&c.keys, KeyConfig::Local { key_file } if key_file == Path::new("/base/kek")));
    assert!(matches!(&c.providers[0].kind, ProviderKind::Fs(p) if p == Path::new("/base/p/de")));
}

/// Promise: a configured key with a user carries its grants and capabilities; without one it
/// is the deployment's own key (no user).
#[test]
fn access_keys_may_name_a_user_with_grants() {
    let text = MINIMAL.replace(
        "secret = \"sk\"",
        "secret = \"sk\"\nuser = \"app\"\ncreate_buckets = true\npolicies = [\"eu\"]\ngrants = { shared = \"read,write\" }",
    );
    let c = Config::parse(&text, Path::new("/")).unwrap();
    let user = c.access_keys[0].user.as_ref().expect("a user");
    assert_eq!(user.name.as_str(), "app");
    assert_eq!(user.caps, UserCaps { create_buckets: true, policies: Some(vec!["eu".into()]) });
    assert_eq!(user.grants, [("shared".to_owned(), Perms::parse("read,write").unwrap())]);
    assert!(Config::parse(MINIMAL, Path::new("/")).unwrap().access_keys[0].user.is_none());
}

const TOKEN: &str = "[[admin_token]]\nname = \"ops\"\nrole = \"viewer\"\ntoken = \"0123456789abcdef\"\n";

/// Promise: admin tokens are kept as their SHA-256 with their name and role; `[admin] token`
/// is the token named `admin` with every right.
#[test]
fn admin_tokens_are_named_hashed_and_have_a_role() {
    let c =
        Config::parse(&format!("{MINIMAL}[admin]\ntoken = \"the-admin-token-123\"\n{TOKEN}"), Path::new("/")).unwrap();
    let shown: Vec<(&str, AdminRole)> = c.admin_tokens.iter().map(|t| (t.name.as_str(), t.role)).collect();
    assert_eq!(shown, [("admin", AdminRole::Admin), ("ops", AdminRole::Viewer)]);
    assert_eq!(c.admin_tokens[1].sha256, token_sha256("0123456789abcdef"));
    assert!(!format!("{c:?}").contains("0123456789abcdef"), "no token in Debug");
    let c = Config::parse(&format!("{MINIMAL}[admin]\nprometheus_url = \"http://127.0.0.1:9090/\"\n"), Path::new("/"))
        .unwrap();
    assert_eq!(c.console.prometheus_url.as_deref(), Some("http://127.0.0.1:9090"), "kept without its trailing slash");
    assert_eq!(c.console.report_pdf, ReportPdf::Builtin);
    let c = Config::parse(&format!("{MINIMAL}[admin]\nreport_pdf = \"chromium\"\n"), Path::new("/")).unwrap();
    assert_eq!(c.console.report_pdf, ReportPdf::Chromium("chromium".into()));
}

#[test]
fn errors_are_one_line_and_name_the_field() {
    let cases = [
        (MINIMAL.replace("region = \"eu-sovereign-1\"\n", ""), "line 2", "region"),
        (MINIMAL.replace("country = \"DE\"", "country = \"Germany\""), "provider[0].country", "Germany"),
        (MINIMAL.replace("default_policy = \"eu\"", "default_policy = \"nope\""), "server.default_policy", "nope"),
        (MINIMAL.replace("[keys]", "[keys]\nbogus = 1"), "line 9", "bogus"),
        (MINIMAL.replace("write_quorum = 1", "write_quorum = 2"), "policy[0].write_quorum", "between 1 and replicas"),
        (
            MINIMAL.replace("secret = \"sk\"", "secret = \"sk\"\ngrants = { b = \"read\" }"),
            "access_key[0].user",
            "need a user",
        ),
        (
            MINIMAL.replace("secret = \"sk\"", "secret = \"sk\"\nuser = \"a b\""),
            "access_key[0].user",
            "invalid user name",
        ),
        (
            MINIMAL.replace("secret = \"sk\"", "secret = \"sk\"\nuser = \"app\"\ngrants = { b = \"admin\" }"),
            "access_key[0].grants",
            "unknown permission",
        ),
        (
            format!("{MINIMAL}{TOKEN}").replace("role = \"viewer\"", "role = \"root\""),
            "admin_token[0].role",
            "unknown role",
        ),
        (format!("{MINIMAL}{TOKEN}").replace("0123456789abcdef", "short"), "admin_token[0].token", "at least 16"),
        (
            format!("{MINIMAL}[admin]\ntoken = \"0123456789abcdef\"\n{TOKEN}").replace("\"ops\"", "\"admin\""),
            "admin_token[0].name",
            "named twice",
        ),
        (format!("{MINIMAL}[admin]\nprometheus_url = \"ftp://p:9090\"\n"), "admin.prometheus_url", "http://"),
        (format!("{MINIMAL}[admin]\nprometheus_url = \"http://\"\n"), "admin.prometheus_url", "not a URL"),
        (format!("{MINIMAL}[admin]\nprometheus_url = \"/api\"\n"), "admin.prometheus_url", "http://"),
        (format!("{MINIMAL}[admin]\nreport_pdf = \"latex\"\n"), "admin.report_pdf", "latex"),
        (format!("{MINIMAL}[admin]\nchromium = \"/usr/bin/chromium\"\n"), "admin.chromium", "only with"),
    ];
    for (text, field, says) in cases {
        let err = Config::parse(&text, Path::new("/")).unwrap_err();
        let shown = crate::report::chain(&err);
        assert_eq!(err.field(), field, "{shown}");
        assert!(shown.contains(says), "{shown:?} should say {says}");
        assert!(!shown.contains('\n'), "{shown:?} should be one line");
    }
}

/// Promise (issue 26): a policy with `scheme = "rs"` places on k + m providers with a write
/// quorum of k + 1 shards unless given; impossible shapes are refused naming the field.
#[test]
fn erasure_policies_name_their_shards() {
    let mut more = String::new();
    for c in ["fr", "nl", "at", "be", "pl"] {
        let country = c.to_uppercase();
        let section =
            format!("id = \"{c}\"\nkind = \"fs\"\npath = \"p/{c}\"\ncountry = \"{country}\"\noperator = \"{c}\"");
        more.push_str("[[provider]]\n");
        more.push_str(&section);
        more.push('\n');
    }
    let rs = |extra: &str| {
        MINIMAL
            .replace("replicas = 1\nwrite_quorum = 1", &format!("scheme = \"rs\"\n{extra}"))
            .replace("[[policy]]", &format!("{more}[[policy]]"))
    };
    let c = Config::parse(&rs("data_shards = 4\nparity_shards = 2"), Path::new("/")).unwrap();
    let p = &c.policies["eu"];
    assert_eq!((p.replicas, p.write_quorum), (6, 5));
    assert_eq!(p.erasure, Some(crate::model::ErasureShards { data: 4, parity: 2 }));
    let c = Config::parse(&rs("data_shards = 3\nparity_shards = 2\nwrite_quorum = 3\nreplicas = 5"), Path::new("/"));
    assert_eq!(c.unwrap().policies["eu"].write_quorum, 3);
    for (extra, field, says) in [
        ("parity_shards = 2", "policy[0].data_shards", "required"),
        ("data_shards = 4\nparity_shards = 0", "policy[0].data_shards", "at least 1"),
        ("data_shards = 12\nparity_shards = 5", "policy[0].data_shards", "at most 16"),
        ("data_shards = 4\nparity_shards = 2\nreplicas = 3", "policy[0].replicas", "absent or"),
        ("data_shards = 4\nparity_shards = 2\nwrite_quorum = 3", "policy[0].write_quorum", "between data_shards"),
        ("data_shards = 4\nparity_shards = 2\nwrite_quorum = 7", "policy[0].write_quorum", "between data_shards"),
    ] {
        let err = Config::parse(&rs(extra), Path::new("/")).unwrap_err();
        let shown = crate::report::chain(&err);
        assert_eq!(err.field(), field, "{shown}");
        assert!(shown.contains(says), "{shown:?} should say {says}");
    }
    let odd = MINIMAL.replace("replicas = 1", "scheme = \"mirror\"\nreplicas = 1");
    assert_eq!(Config::parse(&odd, Path::new("/")).unwrap_err().field(), "policy[0].scheme");
    let mixed = MINIMAL.replace("replicas = 1", "replicas = 1\ndata_shards = 2");
    assert_eq!(Config::parse(&mixed, Path::new("/")).unwrap_err().field(), "policy[0].data_shards");
}

/// Promise (issue 20 item 4): a refusal keeps its cause, so the operator sees why a secret
/// file could not be read (the I/O error is the source, not flattened into text).
#[test]
fn a_refused_secret_file_keeps_its_cause() {
    let text = MINIMAL.replace("secret = \"sk\"", "secret_file = \"missing-secret\"");
    let err = Config::parse(&text, Path::new("/nonexistent-base")).unwrap_err();
    assert_eq!(err.field(), "access_key[0].secret_file");
    let cause = std::error::Error::source(&err).and_then(|c| c.downcast_ref::<std::io::Error>());
    assert_eq!(cause.map(std::io::Error::kind), Some(std::io::ErrorKind::NotFound), "{err:?}");
    assert_eq!(
        crate::report::chain(&err),
        format!(
            "access_key[0].secret_file: /nonexistent-base/missing-secret: {}",
            cause.map(ToString::to_string).unwrap_or_default()
        )
    );
}

/// Promise (issue 18 item 7): a provider over plain http:// is accepted only on loopback,
/// or when `allow_insecure_http = true` names the risk; the refusal names the field.
#[test]
fn plain_http_providers_only_on_loopback_unless_allowed() {
    let s3 = |endpoint: &str, extra: &str| {
        MINIMAL.replace(
            "kind = \"fs\"\npath = \"p/de\"",
            &format!(
                "kind = \"s3\"\nendpoint = \"{endpoint}\"\nbucket = \"b\"\nregion = \"r\"\naccess_key = \"a\"\nsecret = \"s\"\n{extra}"
            ),
        )
    };
    for ok in ["https://s3.example.eu", "http://127.0.0.1:9000", "http://localhost:9000/", "http://[::1]:9000"] {
        Config::parse(&s3(ok, ""), Path::new("/")).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for refused in
        ["http://s3.example.eu", "http://10.0.0.5:9000", "http://127.0.0.1.example.eu:80", "http://localhost@evil.eu"]
    {
        let err = crate::report::chain(&Config::parse(&s3(refused, ""), Path::new("/")).unwrap_err());
        assert!(err.contains("provider[0].allow_insecure_http") && !err.contains('\n'), "{refused}: {err}");
    }
    let allowed = Config::parse(&s3("http://s3.example.eu", "allow_insecure_http = true"), Path::new("/"));
    assert!(allowed.is_ok(), "{allowed:?}");
}

/// Promise (issue 18 item 11): no secret of a loaded config reaches `Debug` output, neither
/// the validated config nor the file as read (admin token, access key secret, a provider's
/// secret, the KMS token).
#[test]
fn debug_output_holds_no_secret() {
    let quickstart = include_str!("../../config/quickstart.toml");
    let with_s3 = format!(
        "{quickstart}\n[[provider]]\nid = \"remote\"\nkind = \"s3\"\nendpoint = \"https://s3.example.eu\"\nbucket = \"b\"\nregion = \"r\"\naccess_key = \"ak\"\nsecret = \"provider-secret-xyz\"\ncountry = \"FR\"\noperator = \"R\"\n"
    );
    let secrets = ["souverain-dev-admin-token-change-me", "souverain-dev-secret-change-me", "provider-secret-xyz"];
    let config = Config::parse(&with_s3, Path::new("/")).unwrap();
    let raw: raw::RawConfig = toml::from_str(&with_s3).unwrap();
    let transit = raw::RawKeys {
        provider: "transit".into(),
        token: Some(String::from("kms-token-abc").into()),
        approle_secret_id: Some(String::from("approle-secret-def").into()),
        ..raw::RawKeys::default()
    };
    let printed = format!("{config:?} {config:#?} {raw:?} {transit:?}");
    for secret in secrets.iter().chain(&["kms-token-abc", "approle-secret-def"]) {
        assert!(!printed.contains(secret), "{secret} in Debug output");
    }
    assert!(printed.contains("<redacted>"));
}

/// Promise (issue 18 item 12): a database that is not on this machine is reached over
/// TLS only (sslmode=prefer becomes require); `sslmode=disable` to it is refused unless
/// `allow_plaintext = true`; a local one keeps what the URL says.
#[test]
fn remote_databases_require_tls() {
    let pg = |url: &str, extra: &str| {
        MINIMAL.replace(
            "engine = \"memory\"",
            &format!("engine = \"postgres\"\nurl = \"{url}\"\npassword = \"p\"\n{extra}"),
        )
    };
    let mode = |text: &str| match Config::parse(text, Path::new("/")).map(|c| c.metadata) {
        Ok(MetadataEngine::Postgres(s)) => {
            s.connection_config().map(|c| format!("{:?}", c.get_ssl_mode())).map_err(|e| crate::report::chain(&e))
        }
        Ok(other) => Err(format!("{other:?}")),
        Err(e) => Err(crate::report::chain(&e)),
    };
    assert_eq!(mode(&pg("postgres://u@db.example.eu/s", "")), Ok("Require".to_owned()));
    assert_eq!(mode(&pg("postgres://u@127.0.0.1/s", "")), Ok("Prefer".to_owned()));
    let refused = mode(&pg("postgres://u@db.example.eu/s?sslmode=disable", ""));
    assert!(refused.as_ref().is_err_and(|e| e.contains("allow_plaintext")), "{refused:?}");
    let allowed = pg("postgres://u@db.example.eu/s?sslmode=disable", "allow_plaintext = true");
    assert_eq!(mode(&allowed), Ok("Disable".to_owned()));
}
