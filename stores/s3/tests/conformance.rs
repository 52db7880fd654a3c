//! The conformance suite on S3Store, three times: against rclone `serve s3`
//! (`services/rclone`, `KV_RCLONE_S3_URL`), a real S3 server checking signatures, against moto
//! (`services/moto`, `KV_MOTO_URL`), the AWS emulator, and against SeaweedFS's S3 gateway
//! (`services/seaweedfs`, `KV_SEAWEEDFS_S3_URL`), a real distributed object store. Each test gets its own bucket (named
//! after `Fixture::namespace`), so tests running in parallel on one server do not meet and
//! `destroy` is safe.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_s3::S3Store;
use key_value_testkit::Fixture;

fn open(server: Option<common::Server>, fx: &Fixture) -> S3Store {
    let server = server.expect("the suite checks the server's variable first");
    server
        .config(&common::bucket_for(fx.namespace()))
        .clock(fx.clock())
        .open()
        .unwrap()
}

mod rclone {
    use super::*;

    async fn store(fx: Fixture) -> S3Store {
        open(common::rclone("s3 conformance (rclone)"), &fx)
    }

    key_value_testkit::conformance_suite!(
        store,
        requires = "KV_RCLONE_S3_URL",
        unsupported = &[(
            "concurrent_operations",
            "rclone serve s3 rewrites an object's file in place and answers with sizes from its \
             directory cache, so a GET racing a PUT can see a short body or a missing object \
             (S3, moto and SeaweedFS replace objects atomically; the test runs on those two)",
        )]
    );
}

mod moto {
    use super::*;

    async fn store(fx: Fixture) -> S3Store {
        open(common::moto("s3 conformance (moto)"), &fx)
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_MOTO_URL");
}

mod seaweedfs {
    use super::*;

    async fn store(fx: Fixture) -> S3Store {
        open(common::seaweedfs("s3 conformance (seaweedfs)"), &fx)
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_SEAWEEDFS_S3_URL");
}
