//! Table tests for [`Reference::parse`].
//!
//! Rows marked "(dref)" are ported from distribution/reference
//! (<https://github.com/distribution/reference>, Apache-2.0, Copyright The
//! Docker/CNCF Distribution authors): `reference_test.go`,
//! `normalize_test.go` and `regexp_test.go`. Their expectations are restated
//! for the *normalized* parse (`ParseNormalizedNamed`): where dref's `Parse`
//! takes `foo/foo_bar.com` as domain `foo`, the normalized parse has
//! `docker.io`. Rows where we deliberately differ from distribution or
//! oci-spec-rs stay enabled, with a comment naming the SPEC line.

use super::*;

/// 64 hex characters: a sha256 digest.
macro_rules! f64 {
    () => {
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    };
}
/// A real-looking sha256 digest.
macro_rules! d64 {
    () => {
        "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
    };
}
/// 96 hex characters: a sha384 digest.
macro_rules! h96 {
    () => {
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    };
}
/// 128 hex characters: a sha512 digest.
macro_rules! f128 {
    () => {
        concat!(f64!(), f64!())
    };
}

/// One valid input and every part the parse must produce.
struct Valid {
    input: &'static str,
    domain: &'static str,
    path: &'static str,
    tag: Option<&'static str>,
    digest: Option<&'static str>,
    names_registry: bool,
}

/// Shorthand for a [`Valid`] row.
const fn ok(
    input: &'static str,
    domain: &'static str,
    path: &'static str,
    tag: Option<&'static str>,
    digest: Option<&'static str>,
    names_registry: bool,
) -> Valid {
    Valid {
        input,
        domain,
        path,
        tag,
        digest,
        names_registry,
    }
}

const HUB: &str = DOCKER_HUB;
const NO: Option<&str> = None;

#[rustfmt::skip]
const VALID: &[Valid] = &[
    // --- Docker Hub short names (SPEC §1) ---
    ok("nginx", HUB, "library/nginx", NO, NO, false),
    ok("nginx:1.27", HUB, "library/nginx", Some("1.27"), NO, false),
    ok("nginx:latest", HUB, "library/nginx", Some("latest"), NO, false),
    ok("bitnami/redis:7", HUB, "bitnami/redis", Some("7"), NO, false),
    ok("library/nginx", HUB, "library/nginx", NO, NO, false),
    ok("foo__bar", HUB, "library/foo__bar", NO, NO, false),
    ok("a-----b", HUB, "library/a-----b", NO, NO, false),
    // --- Docker Hub written with a registry: every alias is docker.io (SPEC §1) ---
    ok("docker.io/nginx", HUB, "library/nginx", NO, NO, true),
    ok("docker.io/library/nginx:latest", HUB, "library/nginx", Some("latest"), NO, true),
    ok("index.docker.io/nginx", HUB, "library/nginx", NO, NO, true),
    // distribution keeps registry-1.docker.io and upper-case aliases as other
    // registries; SPEC §1 folds them into docker.io (closes the
    // "registry-1.docker.io slips past a Docker Hub reject" bypass).
    ok("registry-1.docker.io/nginx", HUB, "library/nginx", NO, NO, true),
    ok("INDEX.DOCKER.IO/library/nginx", HUB, "library/nginx", NO, NO, true),
    ok("Docker.IO/nginx:1", HUB, "library/nginx", Some("1"), NO, true),
    ok("registry-1.docker.io/bitnami/redis", HUB, "bitnami/redis", NO, NO, true),
    // The default port is still Docker Hub (else `registry-1.docker.io:443`
    // would slip past a Docker Hub reject); another port is another registry.
    ok("docker.io:443/nginx", HUB, "library/nginx", NO, NO, true),
    ok("registry-1.docker.io:0443/nginx", HUB, "library/nginx", NO, NO, true),
    ok("docker.io:5000/nginx", "docker.io:5000", "nginx", NO, NO, true),
    // Not a whole digest: a Docker Hub name and tag, as in distribution
    // (a bare `sha256:<64 hex>` is refused, see the invalid table).
    ok("sha256:abc", HUB, "library/sha256", Some("abc"), NO, false),
    // --- Cloud registries ---
    ok("gcr.io/google-containers/pause:3.9", "gcr.io", "google-containers/pause", Some("3.9"), NO, true),
    ok("us-docker.pkg.dev/proj/repo/img:tag", "us-docker.pkg.dev", "proj/repo/img", Some("tag"), NO, true),
    ok("071460744267.dkr.ecr.us-east-1.amazonaws.com/test/snyk:latest",
       "071460744267.dkr.ecr.us-east-1.amazonaws.com", "test/snyk", Some("latest"), NO, true),
    ok(concat!("myreg.azurecr.io/app@sha256:", d64!()),
       "myreg.azurecr.io", "app", NO, Some(concat!("sha256:", d64!())), true),
    ok("quay.io/prometheus/node-exporter:v1.8.2", "quay.io", "prometheus/node-exporter", Some("v1.8.2"), NO, true),
    ok("ghcr.io/fluxcd/source-controller:v1.4.1", "ghcr.io", "fluxcd/source-controller", Some("v1.4.1"), NO, true),
    ok("registry.k8s.io/pause:3.10", "registry.k8s.io", "pause", Some("3.10"), NO, true),
    ok("public.ecr.aws/nginx/nginx:1.27", "public.ecr.aws", "nginx/nginx", Some("1.27"), NO, true),
    ok("mcr.microsoft.com/dotnet/aspnet:8.0", "mcr.microsoft.com", "dotnet/aspnet", Some("8.0"), NO, true),
    // --- localhost, ports, IPv6 ---
    ok("localhost/foo", "localhost", "foo", NO, NO, true),
    ok(concat!("localhost:5000/a/b@sha256:", f64!()),
       "localhost:5000", "a/b", NO, Some(concat!("sha256:", f64!())), true),
    ok("example:5000/foo", "example:5000", "foo", NO, NO, true),
    ok("[::1]:5000/app", "[::1]:5000", "app", NO, NO, true),
    ok("[2001:db8::1]/app:1", "[2001:db8::1]", "app", Some("1"), NO, true),
    // --- Upper-case first component is a registry (SPEC §1) ---
    // oci-spec-rs (and so Kubewarden's trusted-repos) takes EVILHOST/app as
    // Docker Hub; distribution and SPEC §1 make it the registry EVILHOST.
    ok("EVILHOST/app:1", "EVILHOST", "app", Some("1"), NO, true),
    ok("Foo/bar", "Foo", "bar", NO, NO, true),
    // --- Tags and digests ---
    ok(concat!("nginx@sha256:", d64!()), HUB, "library/nginx", NO, Some(concat!("sha256:", d64!())), false),
    ok(concat!("nginx:1.27@sha256:", d64!()), HUB, "library/nginx", Some("1.27"), Some(concat!("sha256:", d64!())), false),
    ok(concat!("ghcr.io/org/app@sha384:", h96!()), "ghcr.io", "org/app", NO, Some(concat!("sha384:", h96!())), true),
    ok(concat!("ghcr.io/org/app:v1@sha512:", f128!()), "ghcr.io", "org/app", Some("v1"), Some(concat!("sha512:", f128!())), true),
    ok("nginx:_underscore", HUB, "library/nginx", Some("_underscore"), NO, false),

    // --- (dref) reference_test.go TestReferenceParse, normalized ---
    ok("test_com", HUB, "library/test_com", NO, NO, false),
    // No '/': no domain, so the ':' starts a tag (distribution's FIXME).
    ok("test.com:tag", HUB, "library/test.com", Some("tag"), NO, false),
    ok("test.com:5000", HUB, "library/test.com", Some("5000"), NO, false),
    ok("test.com/repo:tag", "test.com", "repo", Some("tag"), NO, true),
    ok("test:5000/repo", "test:5000", "repo", NO, NO, true),
    ok("test:5000/repo:tag", "test:5000", "repo", Some("tag"), NO, true),
    ok(concat!("test:5000/repo@sha256:", f64!()), "test:5000", "repo", NO, Some(concat!("sha256:", f64!())), true),
    ok(concat!("test:5000/repo:tag@sha256:", f64!()), "test:5000", "repo", Some("tag"), Some(concat!("sha256:", f64!())), true),
    ok("lowercase:Uppercase", HUB, "library/lowercase", Some("Uppercase"), NO, false),
    ok("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", NO, NO, true),
    ok("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", Some("some-long-tag"), NO, true),
    ok("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app", Some("test.example.com"), NO, true),
    ok("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", Some("xn--n3h.com"), NO, true),
    ok(concat!("xn--7o8h.com/myimage:xn--7o8h.com@sha512:", f128!()),
       "xn--7o8h.com", "myimage", Some("xn--7o8h.com"), Some(concat!("sha512:", f128!())), true),
    ok("foo_bar.com:8080", HUB, "library/foo_bar.com", Some("8080"), NO, false),
    // dref's Parse takes "foo" as the domain; normalized, "foo" is a Docker Hub namespace.
    ok("foo/foo_bar.com:8080", HUB, "foo/foo_bar.com", Some("8080"), NO, false),
    ok("192.168.1.1", HUB, "library/192.168.1.1", NO, NO, false),
    ok("192.168.1.1:tag", HUB, "library/192.168.1.1", Some("tag"), NO, false),
    ok("192.168.1.1:5000", HUB, "library/192.168.1.1", Some("5000"), NO, false),
    ok("192.168.1.1/repo", "192.168.1.1", "repo", NO, NO, true),
    ok("192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", NO, NO, true),
    ok("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", Some("5050"), NO, true),
    ok("[2001:db8::1]/repo", "[2001:db8::1]", "repo", NO, NO, true),
    ok("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", Some("tag"), NO, true),
    ok("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", NO, NO, true),
    ok("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", Some("tag"), NO, true),
    ok(concat!("[2001:db8::1]:5000/repo@sha256:", f64!()),
       "[2001:db8::1]:5000", "repo", NO, Some(concat!("sha256:", f64!())), true),
    ok(concat!("[2001:db8::1]:5000/repo:tag@sha256:", f64!()),
       "[2001:db8::1]:5000", "repo", Some("tag"), Some(concat!("sha256:", f64!())), true),
    ok("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", NO, NO, true),
    ok("[::1]:5000/repo", "[::1]:5000", "repo", NO, NO, true),
    // --- (dref) reference_test.go TestDomainAndPath / normalize_test.go TestNormalizedSplitHostname ---
    ok("test.com/foo", "test.com", "foo", NO, NO, true),
    ok("test_com/foo", HUB, "test_com/foo", NO, NO, false),
    ok("docker/migrator", HUB, "docker/migrator", NO, NO, false),
    ok("test:8080/foo", "test:8080", "foo", NO, NO, true),
    ok("test.com:8080/foo", "test.com:8080", "foo", NO, NO, true),
    ok("test-com:8080/foo", "test-com:8080", "foo", NO, NO, true),
    ok("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", NO, NO, true),
    ok("foo", HUB, "library/foo", NO, NO, false),
    ok("docker.io/foo", HUB, "library/foo", NO, NO, true),
    ok("docker.io/library/foo", HUB, "library/foo", NO, NO, true),
    ok("docker.io/library/foo/bar", HUB, "library/foo/bar", NO, NO, true),
    // --- (dref) normalize_test.go TestValidateReferenceName / TestValidateRemoteName ---
    ok("docker/docker", HUB, "docker/docker", NO, NO, false),
    ok("library/debian", HUB, "library/debian", NO, NO, false),
    ok("debian", HUB, "library/debian", NO, NO, false),
    ok("docker.io/docker/docker", HUB, "docker/docker", NO, NO, true),
    ok("docker.io/debian", HUB, "library/debian", NO, NO, true),
    ok("index.docker.io/docker/docker", HUB, "docker/docker", NO, NO, true),
    ok("index.docker.io/library/debian", HUB, "library/debian", NO, NO, true),
    ok("index.docker.io/debian", HUB, "library/debian", NO, NO, true),
    ok("127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", NO, NO, true),
    ok("127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian", NO, NO, true),
    ok("127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", NO, NO, true),
    ok("192.168.0.1", HUB, "library/192.168.0.1", NO, NO, false),
    ok("192.168.0.1:80", HUB, "library/192.168.0.1", Some("80"), NO, false),
    ok("192.168.0.1:8/debian", "192.168.0.1:8", "debian", NO, NO, true),
    ok("192.168.0.2:25000/debian", "192.168.0.2:25000", "debian", NO, NO, true),
    ok("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
       HUB, "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", NO, NO, false),
    ok("[fc00::1]:5000/docker", "[fc00::1]:5000", "docker", NO, NO, true),
    ok("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", NO, NO, true),
    ok("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian", NO, NO, true),
    // A 64-hex string is a name once a registry is written.
    ok("docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
       HUB, "library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", NO, NO, true),
    ok("Docker/docker", "Docker", "docker", NO, NO, true),
    ok("DOCKER/docker", "DOCKER", "docker", NO, NO, true),
    ok("docker-rules/docker", HUB, "docker-rules/docker", NO, NO, false),
    ok("docker---rules/docker", HUB, "docker---rules/docker", NO, NO, false),
    ok("doc/docker", HUB, "doc/docker", NO, NO, false),
    ok("d/docker", HUB, "d/docker", NO, NO, false),
    ok("jess/t", HUB, "jess/t", NO, NO, false),
    ok("dock__er/docker", HUB, "dock__er/docker", NO, NO, false),
    // --- (dref) normalize_test.go TestParseRepositoryInfo ---
    ok("fooo/bar", HUB, "fooo/bar", NO, NO, false),
    ok("index.docker.io/fooo/bar", HUB, "fooo/bar", NO, NO, true),
    ok("ubuntu", HUB, "library/ubuntu", NO, NO, false),
    ok("library/ubuntu", HUB, "library/ubuntu", NO, NO, false),
    ok("nonlibrary/ubuntu", HUB, "nonlibrary/ubuntu", NO, NO, false),
    ok("other/library", HUB, "other/library", NO, NO, false),
    ok("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000", "private/moonbase", NO, NO, true),
    ok("example.com/privatebase", "example.com", "privatebase", NO, NO, true),
    ok("example.com:8000/privatebasee", "example.com:8000", "privatebasee", NO, NO, true),
    ok("ubuntu-12.04-base", HUB, "library/ubuntu-12.04-base", NO, NO, false),
    ok("index.docker.io/library/ubuntu-12.04-base", HUB, "library/ubuntu-12.04-base", NO, NO, true),
    ok("store/foo/bar", HUB, "store/foo/bar", NO, NO, false),
    ok("FOO/bar", "FOO", "bar", NO, NO, true),
    // --- (dref) normalize_test.go TestParseReferenceWithTagAndDigest / TestParseAnyReference ---
    ok("busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
       HUB, "library/busybox", Some("latest"),
       Some("sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"), false),
    ok(concat!("dmcgowan/myapp@sha256:", d64!()), HUB, "dmcgowan/myapp", NO, Some(concat!("sha256:", d64!())), false),
    // 63 hex characters is an ordinary name.
    ok("dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
       HUB, "library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9", NO, NO, false),
    ok("dbcc1", HUB, "library/dbcc1", NO, NO, false),
    // --- (dref) regexp_test.go TestFullNameRegexp / TestReferenceRegexp ---
    ok("registry.io/foo/project--id.module--name.ver---sion--name",
       "registry.io", "foo/project--id.module--name.ver---sion--name", NO, NO, true),
    ok("example.com/some_separator__underscore/myimage", "example.com", "some_separator__underscore/myimage", NO, NO, true),
    ok("example.com/xn--7o8h.com/myimage", "example.com", "xn--7o8h.com/myimage", NO, NO, true),
    ok("Asdf.com/foo/bar", "Asdf.com", "foo/bar", NO, NO, true),
    ok("aa-a/a", HUB, "aa-a/a", NO, NO, false),
    ok("do__cker/docker", HUB, "do__cker/docker", NO, NO, false),
    ok("registry.com:8080/myapp:tag", "registry.com:8080", "myapp", Some("tag"), NO, true),
    // No '/': "localhost" is a Docker Hub name and 8080 its tag.
    ok(concat!("localhost:8080@sha256:", f64!()), HUB, "library/localhost", Some("8080"), Some(concat!("sha256:", f64!())), false),
    ok(concat!("localhost@sha256:", f64!()), HUB, "library/localhost", NO, Some(concat!("sha256:", f64!())), false),
    ok(concat!("localhost:8080/name@sha256:", f64!()), "localhost:8080", "name", NO, Some(concat!("sha256:", f64!())), true),
];

fn assert_valid(
    input: &str,
    domain: &str,
    path: &str,
    tag: Option<&str>,
    digest: Option<&str>,
    names_registry: bool,
) {
    let r = match Reference::parse(input) {
        Ok(r) => r,
        Err(e) => panic!("{input:?} should parse, got {e:?}: {e}"),
    };
    assert_eq!(r.domain(), domain, "domain of {input:?}");
    assert_eq!(r.path(), path, "path of {input:?}");
    assert_eq!(r.tag(), tag, "tag of {input:?}");
    assert_eq!(r.digest(), digest, "digest of {input:?}");
    assert_eq!(
        r.names_registry(),
        names_registry,
        "names_registry of {input:?}"
    );
    assert_eq!(r.is_pinned(), digest.is_some(), "is_pinned of {input:?}");
    let (host, port) = grammar::split_host_port(domain);
    assert_eq!(r.host(), host, "host of {input:?}");
    assert_eq!(r.port(), port, "port of {input:?}");
    let mut expected = format!("{domain}/{path}");
    if let Some(tag) = tag {
        expected.push(':');
        expected.push_str(tag);
    }
    if let Some(digest) = digest {
        expected.push('@');
        expected.push_str(digest);
    }
    assert_eq!(r.to_string(), expected, "display of {input:?}");
    assert_round_trip(&r);
}

/// `parse(display(r)) == r`, and normalizing again changes nothing.
fn assert_round_trip(r: &Reference) {
    let shown = r.to_string();
    let again = match Reference::parse(&shown) {
        Ok(again) => again,
        Err(e) => panic!("display {shown:?} of {r:?} should re-parse, got {e}"),
    };
    assert_eq!(&again, r, "parse(display) of {shown:?}");
    assert_eq!(again.to_string(), shown, "normalizing {shown:?} twice");
    assert_eq!(again.domain(), r.domain());
    assert_eq!(again.host(), r.host());
    assert_eq!(again.port(), r.port());
    assert_eq!(again.path(), r.path());
    assert_eq!(again.tag(), r.tag());
    assert_eq!(again.digest(), r.digest());
    // The normalized form always names its registry.
    assert!(again.names_registry(), "{shown:?} names a registry");
}

#[test]
fn valid_table() {
    for row in VALID {
        assert_valid(
            row.input,
            row.domain,
            row.path,
            row.tag,
            row.digest,
            row.names_registry,
        );
    }
}

/// Rows that need computed inputs (lengths at the limits).
#[test]
fn valid_at_the_limits() {
    // (dref) a path of exactly 255 characters, the tag not counted.
    let input = format!("{}a:tag-puts-this-over-max", "a/".repeat(127));
    let path = format!("{}a", "a/".repeat(127));
    assert_eq!(path.len(), 255);
    assert_valid(
        &input,
        HUB,
        &path,
        Some("tag-puts-this-over-max"),
        None,
        false,
    );

    // The registry is not counted (distribution v0.6.0).
    let input = format!("{}.example.com/{path}", "r".repeat(100));
    assert_valid(
        &input,
        &format!("{}.example.com", "r".repeat(100)),
        &path,
        None,
        None,
        true,
    );

    // `library/` is counted: 247 + 8 = 255.
    let name = "a".repeat(247);
    assert_valid(&name, HUB, &format!("library/{name}"), None, None, false);

    // A tag of exactly 128 characters.
    let tag = "t".repeat(128);
    assert_valid(
        &format!("nginx:{tag}"),
        HUB,
        "library/nginx",
        Some(&tag),
        None,
        false,
    );
}

/// One invalid input and the exact error.
struct Invalid {
    input: String,
    expected: ReferenceError,
}

fn bad(input: impl Into<String>, expected: ReferenceError) -> Invalid {
    Invalid {
        input: input.into(),
        expected,
    }
}

fn s(x: &str) -> String {
    x.to_owned()
}

#[rustfmt::skip]
fn invalid_table() -> Vec<Invalid> {
    use ReferenceError as E;
    let upper64 = "ABCDEF0123456789".repeat(4);
    let hex64 = f64!();
    let tag129 = "t".repeat(129);
    let path256 = format!("{}aa", "a/".repeat(127));
    let path257 = format!("{}a", "a/".repeat(128));
    let long_namespace = "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker";
    vec![
        // --- Characters ---
        bad("", E::Empty),
        bad(" nginx", E::SurroundingWhitespace { input: s(" nginx") }),
        bad("nginx ", E::SurroundingWhitespace { input: s("nginx ") }),
        bad("nginx\n", E::SurroundingWhitespace { input: s("nginx\n") }),
        bad("\u{a0}nginx", E::SurroundingWhitespace { input: s("\u{a0}nginx") }),
        bad("ngi nx", E::InnerWhitespace { input: s("ngi nx"), position: 3 }),
        bad("nginx :1", E::InnerWhitespace { input: s("nginx :1"), position: 5 }),
        bad("nginx\t:1", E::InnerWhitespace { input: s("nginx\t:1"), position: 5 }),
        bad("ghcr.io/org/ünicode", E::NonAscii { input: s("ghcr.io/org/ünicode"), character: 'ü', position: 12 }),
        // Cyrillic look-alikes: х (U+0445) for x, а (U+0430) for a.
        bad("ngin\u{445}", E::NonAscii { input: s("ngin\u{445}"), character: '\u{445}', position: 4 }),
        bad("docker.io/libr\u{430}ry/nginx", E::NonAscii { input: s("docker.io/libr\u{430}ry/nginx"), character: '\u{430}', position: 14 }),
        bad("nginx\u{200b}", E::NonAscii { input: s("nginx\u{200b}"), character: '\u{200b}', position: 5 }),
        bad("ghcr.io/%2e%2e/x", E::PercentEncoded { input: s("ghcr.io/%2e%2e/x"), position: 8 }),
        bad("ev%69l.com/x", E::PercentEncoded { input: s("ev%69l.com/x"), position: 2 }),
        bad("nginx:%41", E::PercentEncoded { input: s("nginx:%41"), position: 6 }),
        bad("nginx\0", E::InvalidPathComponent { path: s("nginx\0"), component: s("nginx\0") }),
        // --- Not a name ---
        bad(hex64, E::HexIdentifier { input: s(hex64) }),
        // Deliberately not distribution's reading (docker.io/library/sha256 with
        // a hex tag): CRI runtimes run the local image with that ID.
        bad(concat!("sha256:", f64!()), E::ImageId { input: s(concat!("sha256:", f64!())) }),
        // (dref) TestValidateReferenceName
        bad("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", E::HexIdentifier { input: s("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a") }),
        bad(":tag", E::MissingRepository { input: s(":tag") }),
        bad(":justtag", E::MissingRepository { input: s(":justtag") }),
        bad(concat!("@sha256:", f64!()), E::MissingRepository { input: s(concat!("@sha256:", f64!())) }),
        bad("ghcr.io/", E::MissingRepository { input: s("ghcr.io/") }),
        bad("localhost:5000/", E::MissingRepository { input: s("localhost:5000/") }),
        bad("ghcr.io/:tag", E::MissingRepository { input: s("ghcr.io/:tag") }),
        // (dref) a bracketed registry with nothing after it.
        bad("[2001:db8::1]", E::MissingRepository { input: s("[2001:db8::1]") }),
        bad("[2001:db8::1]:5000", E::MissingRepository { input: s("[2001:db8::1]:5000") }),
        bad("[2001:db8::1]:tag", E::MissingRepository { input: s("[2001:db8::1]:tag") }),
        bad("[fc00::1]", E::MissingRepository { input: s("[fc00::1]") }),
        // --- Registry ---
        bad("docker.io./x", E::EmptyDomainComponent { domain: s("docker.io.") }),
        bad("docker./docker", E::EmptyDomainComponent { domain: s("docker.") }),
        bad(".docker/docker", E::EmptyDomainComponent { domain: s(".docker") }),
        bad("do..cker/docker", E::EmptyDomainComponent { domain: s("do..cker") }),
        bad(":5000/x", E::EmptyDomainComponent { domain: s(":5000") }),
        bad("-docker.io/docker/docker", E::InvalidDomainComponent { domain: s("-docker.io"), component: s("-docker") }),
        bad("bad_hostname.com:8080/myapp:tag", E::InvalidDomainComponent { domain: s("bad_hostname.com:8080"), component: s("bad_hostname") }),
        bad("do__cker:8080/docker", E::InvalidDomainComponent { domain: s("do__cker:8080"), component: s("do__cker") }),
        bad("Foo_Bar/x", E::InvalidDomainComponent { domain: s("Foo_Bar"), component: s("Foo_Bar") }),
        bad("host:abc/x", E::InvalidPort { domain: s("host:abc"), port: s("abc") }),
        bad("host:/x", E::InvalidPort { domain: s("host:"), port: s("") }),
        bad("foo.com:http/bar", E::InvalidPort { domain: s("foo.com:http"), port: s("http") }),
        bad("https://github.com/docker/docker", E::InvalidPort { domain: s("https:"), port: s("") }),
        bad("fc00::1:5000/debian", E::InvalidPort { domain: s("fc00::1:5000"), port: s(":1:5000") }),
        bad("[::1]:5000:6000/x", E::InvalidPort { domain: s("[::1]:5000:6000"), port: s("5000:6000") }),
        bad("[::1%eth0]:5000/x", E::InvalidIpv6Host { domain: s("[::1%eth0]:5000") }),
        bad("[fe80::1%eth0]:5000/repo", E::InvalidIpv6Host { domain: s("[fe80::1%eth0]:5000") }),
        bad("[2001:db8:3:4::192.0.2.33]:5000/debian", E::InvalidIpv6Host { domain: s("[2001:db8:3:4::192.0.2.33]:5000") }),
        bad("[::1]x/app", E::InvalidIpv6Host { domain: s("[::1]x") }),
        // "[]" has no '.', ':' or upper case, so it is not a registry (split_domain's rule).
        bad("[]/app", E::InvalidPathComponent { path: s("[]/app"), component: s("[]") }),
        // --- Repository path ---
        bad("Nginx", E::UppercaseName { name: s("Nginx") }),
        bad("Uppercase:tag", E::UppercaseName { name: s("Uppercase") }),
        bad("test:5000/Uppercase/lowercase:tag", E::UppercaseName { name: s("Uppercase/lowercase") }),
        bad("docker.io/Library/nginx", E::UppercaseName { name: s("Library/nginx") }),
        bad("docker/Docker", E::UppercaseName { name: s("docker/Docker") }),
        bad("docker.io/docker/Docker", E::UppercaseName { name: s("docker/Docker") }),
        bad("Foo/FarB", E::UppercaseName { name: s("FarB") }),
        bad("Nginx@sha256:bad", E::UppercaseName { name: s("Nginx") }),
        bad("a//b", E::EmptyPathComponent { path: s("a//b") }),
        bad("docker///docker", E::EmptyPathComponent { path: s("docker///docker") }),
        bad("docker.io/docker///docker", E::EmptyPathComponent { path: s("docker///docker") }),
        bad("docker/", E::EmptyPathComponent { path: s("docker/") }),
        bad("a/a/a/a/", E::EmptyPathComponent { path: s("a/a/a/a/") }),
        bad("/x", E::EmptyPathComponent { path: s("/x") }),
        bad("aa/asdf$$^/aa", E::InvalidPathComponent { path: s("aa/asdf$$^/aa"), component: s("asdf$$^") }),
        bad("a^a", E::InvalidPathComponent { path: s("a^a"), component: s("a^a") }),
        bad("-docker", E::InvalidPathComponent { path: s("-docker"), component: s("-docker") }),
        bad("-docker/docker", E::InvalidPathComponent { path: s("-docker/docker"), component: s("-docker") }),
        bad("docker-/docker", E::InvalidPathComponent { path: s("docker-/docker"), component: s("docker-") }),
        bad("-docker-/docker", E::InvalidPathComponent { path: s("-docker-/docker"), component: s("-docker-") }),
        bad("foo/bar-", E::InvalidPathComponent { path: s("foo/bar-"), component: s("bar-") }),
        bad("____/____", E::InvalidPathComponent { path: s("____/____"), component: s("____") }),
        bad("_docker/_docker", E::InvalidPathComponent { path: s("_docker/_docker"), component: s("_docker") }),
        bad("dock..er/docker", E::EmptyDomainComponent { domain: s("dock..er") }),
        bad("dock_.er/docker", E::InvalidDomainComponent { domain: s("dock_.er"), component: s("dock_") }),
        bad("dock-.er/docker", E::InvalidDomainComponent { domain: s("dock-.er"), component: s("dock-") }),
        bad("foo___bar", E::InvalidPathComponent { path: s("foo___bar"), component: s("foo___bar") }),
        bad("example.com/__underscore/myimage", E::InvalidPathComponent { path: s("__underscore/myimage"), component: s("__underscore") }),
        bad("example.com/..dots/myimage", E::InvalidPathComponent { path: s("..dots/myimage"), component: s("..dots") }),
        bad("ghcr.io/org/../x", E::InvalidPathComponent { path: s("org/../x"), component: s("..") }),
        // Lower-casing does not fix "b_-c", so that is what is named.
        bad("x/Abc/b_-c", E::InvalidPathComponent { path: s("x/Abc/b_-c"), component: s("b_-c") }),
        // --- Length ---
        bad(path256.clone(), E::NameTooLong { path: path256.clone(), length: 256 }),
        // (dref) "a/"*128 + "a:tag"
        bad(format!("{path257}:tag"), E::NameTooLong { path: path257.clone(), length: 257 }),
        // `library/` counts toward the limit: 248 + 8 = 256.
        bad("a".repeat(248), E::NameTooLong { path: format!("library/{}", "a".repeat(248)), length: 256 }),
        // (dref) TestValidateRemoteName "namespace too long"
        bad(long_namespace, E::NameTooLong { path: s(long_namespace), length: long_namespace.len() }),
        // --- Tag ---
        bad("nginx:", E::EmptyTag { input: s("nginx:") }),
        bad(concat!("nginx:@sha256:", f64!()), E::EmptyTag { input: s(concat!("nginx:@sha256:", f64!())) }),
        bad(format!("nginx:{tag129}"), E::TagTooLong { tag: tag129.clone(), length: 129 }),
        bad("nginx:-1", E::InvalidTagStart { tag: s("-1"), character: '-' }),
        bad("nginx:.1", E::InvalidTagStart { tag: s(".1"), character: '.' }),
        bad("nginx:1:2", E::InvalidTagCharacter { tag: s("1:2"), character: ':' }),
        bad("registry.com:8080/myapp:invalid~tag", E::InvalidTagCharacter { tag: s("invalid~tag"), character: '~' }),
        bad("nginx:1+2", E::InvalidTagCharacter { tag: s("1+2"), character: '+' }),
        // --- Digest ---
        bad("nginx@", E::EmptyDigest { input: s("nginx@") }),
        bad("nginx@sha256:abc", E::InvalidDigestLength { digest: s("sha256:abc"), expected: 64, found: 3 }),
        bad("nginx@sha256:", E::InvalidDigestLength { digest: s("sha256:"), expected: 64, found: 0 }),
        // (dref) ErrDigestInvalidLength
        bad("repo@sha256:ffffffffffffffffffffffffffffffffff", E::InvalidDigestLength { digest: s("sha256:ffffffffffffffffffffffffffffffffff"), expected: 64, found: 34 }),
        bad(concat!("nginx@sha512:", f64!()), E::InvalidDigestLength { digest: s(concat!("sha512:", f64!())), expected: 128, found: 64 }),
        bad(format!("nginx@sha256:{upper64}"), E::InvalidDigestHex { digest: format!("sha256:{upper64}"), expected: 64, character: 'A' }),
        bad(concat!("nginx@sha256:", f64!(), "@x"), E::InvalidDigestHex { digest: s(concat!("sha256:", f64!(), "@x")), expected: 64, character: '@' }),
        bad(concat!("nginx@sha256:", f64!(), ":1"), E::InvalidDigestHex { digest: s(concat!("sha256:", f64!(), ":1")), expected: 64, character: ':' }),
        bad("nginx@md5:d41d8cd98f00b204e9800998ecf8427e", E::UnsupportedDigestAlgorithm { digest: s("md5:d41d8cd98f00b204e9800998ecf8427e"), algorithm: s("md5") }),
        // (dref) ErrDigestUnsupported
        bad(concat!("validname@invaliddigest:", f64!()), E::UnsupportedDigestAlgorithm { digest: s(concat!("invaliddigest:", f64!())), algorithm: s("invaliddigest") }),
        bad(concat!("nginx@SHA256:", f64!()), E::UnsupportedDigestAlgorithm { digest: s(concat!("SHA256:", f64!())), algorithm: s("SHA256") }),
        bad("registry.com:8080/myapp@bad", E::MalformedDigest { digest: s("bad") }),
        bad("registry.com:8080/myapp@2bad", E::MalformedDigest { digest: s("2bad") }),
        bad(concat!("nginx@", f64!()), E::MalformedDigest { digest: s(f64!()) }),
    ]
}

#[test]
fn invalid_table_names_the_exact_error() {
    for Invalid { input, expected } in invalid_table() {
        assert_eq!(Reference::parse(&input), Err(expected), "parse({input:?})");
    }
}

#[test]
fn messages_quote_the_input_and_say_what_is_wrong() {
    let message = |input: &str| match Reference::parse(input) {
        Ok(r) => panic!("{input:?} should not parse, got {r:?}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        message("Nginx"),
        r#"repository name "Nginx" must be lowercase"#
    );
    assert_eq!(
        message("nginx@sha256:abc"),
        r#"digest "sha256:abc" must have 64 lowercase hex characters, found 3"#
    );
    assert_eq!(message(""), "image reference is empty");
    assert_eq!(
        message(" nginx"),
        r#"image reference " nginx" has leading or trailing whitespace"#
    );
    assert_eq!(
        message("ghcr.io/org/ünicode"),
        r#"image reference "ghcr.io/org/ünicode" contains non-ASCII character 'ü' (U+00FC) at byte 12; image references are ASCII only"#
    );
    assert_eq!(
        message("docker.io./x"),
        r#"registry "docker.io." has an empty component (leading, trailing or doubled '.')"#
    );
    assert_eq!(
        message("host:abc/x"),
        r#"registry "host:abc" has invalid port "abc": a port is one or more ASCII digits"#
    );
    assert_eq!(
        message("nginx@md5:d41d8cd98f00b204e9800998ecf8427e"),
        r#"digest "md5:d41d8cd98f00b204e9800998ecf8427e" uses unsupported digest algorithm "md5"; supported: sha256, sha384, sha512"#
    );
    assert_eq!(
        message(&"a".repeat(248)),
        format!(
            r#"repository path "library/{}" is 256 characters long; at most 255 are allowed"#,
            "a".repeat(248)
        )
    );
    assert_eq!(
        message(&format!("nginx:{}", "t".repeat(129))),
        format!(
            r#"tag "{}" is 129 characters long; at most 128 are allowed"#,
            "t".repeat(129)
        )
    );
    // Control characters are shown escaped.
    assert_eq!(
        message("nginx\0"),
        r#"repository path "nginx\0" has invalid component "nginx\0": components are lowercase letters and digits, separated by '.', '_', '__' or runs of '-'"#
    );
    // Every variant's message quotes the part it is about.
    for Invalid { input, expected } in invalid_table() {
        let text = expected.to_string();
        if !input.is_empty() {
            assert!(
                text.contains('"'),
                "message for {input:?} quotes something: {text}"
            );
        }
    }
}

#[test]
fn effective_tag_and_pinning() {
    const CASES: &[(&str, Option<&str>, bool)] = &[
        ("nginx", Some("latest"), false),
        ("nginx:1.27", Some("1.27"), false),
        ("nginx:latest", Some("latest"), false),
        // Digest-only images are not `latest` (SPEC §1; trusted-repos gets this wrong).
        (concat!("nginx@sha256:", d64!()), None, true),
        (concat!("nginx:1.27@sha256:", d64!()), Some("1.27"), true),
        (concat!("localhost:5000/a/b@sha256:", f64!()), None, true),
    ];
    for &(input, effective_tag, pinned) in CASES {
        let r = Reference::parse(input);
        assert_eq!(
            r.as_ref().map(Reference::effective_tag),
            Ok(effective_tag),
            "{input:?}"
        );
        assert_eq!(
            r.as_ref().map(Reference::is_pinned),
            Ok(pinned),
            "{input:?}"
        );
    }
}

#[test]
fn host_and_port() {
    const CASES: &[(&str, &str, &str, Option<&str>)] = &[
        ("[::1]:5000/app", "[::1]:5000", "[::1]", Some("5000")),
        (
            "[2001:db8::1]/app:1",
            "[2001:db8::1]",
            "[2001:db8::1]",
            None,
        ),
        (
            "localhost:5000/foo",
            "localhost:5000",
            "localhost",
            Some("5000"),
        ),
        ("localhost/foo", "localhost", "localhost", None),
        ("EVILHOST/app:1", "EVILHOST", "EVILHOST", None),
        ("nginx", "docker.io", "docker.io", None),
        ("INDEX.DOCKER.IO/nginx", "docker.io", "docker.io", None),
        ("docker.io:443/nginx", "docker.io", "docker.io", None),
        (
            "docker.io:5000/nginx",
            "docker.io:5000",
            "docker.io",
            Some("5000"),
        ),
    ];
    for &(input, domain, host, port) in CASES {
        let r = Reference::parse(input);
        assert_eq!(r.as_ref().map(Reference::domain), Ok(domain), "{input:?}");
        assert_eq!(r.as_ref().map(Reference::host), Ok(host), "{input:?}");
        assert_eq!(r.as_ref().map(Reference::port), Ok(port), "{input:?}");
    }
}

#[test]
fn equality_is_the_normalized_image() {
    use std::collections::HashSet;
    let same = [
        "nginx",
        "docker.io/nginx",
        "index.docker.io/library/nginx",
        "REGISTRY-1.DOCKER.IO/nginx",
    ];
    let refs: Vec<Reference> = same
        .iter()
        .filter_map(|s| Reference::parse(s).ok())
        .collect();
    assert_eq!(refs.len(), same.len());
    let set: HashSet<&Reference> = refs.iter().collect();
    assert_eq!(set.len(), 1, "{refs:?}");
    // Tag, digest and registry all distinguish.
    let different = [
        "nginx:latest",
        "ghcr.io/library/nginx",
        concat!("nginx@sha256:", d64!()),
        "evil.io/library/nginx",
    ];
    for other in different {
        assert_ne!(
            Reference::parse(other).ok(),
            refs.first().cloned(),
            "{other:?}"
        );
    }
}

#[test]
fn debug_shows_the_parts() {
    let r = Reference::parse("ghcr.io/org/app:1");
    assert_eq!(
        format!("{r:?}"),
        r#"Ok(Reference { domain: "ghcr.io", path: "org/app", tag: Some("1"), digest: None, names_registry: true })"#
    );
}

/// A small deterministic generator (xorshift64*), so the property tests
/// need no dependency and fail the same way every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// Pieces the generator strings together: grammar punctuation, both cases,
/// hex, look-alikes and multi-byte characters.
const PIECES: &[&str] = &[
    "a",
    "b",
    "z",
    "0",
    "9",
    "f",
    "A",
    "Z",
    "F",
    ".",
    "..",
    "_",
    "__",
    "-",
    "--",
    "/",
    "//",
    ":",
    "@",
    "[",
    "]",
    "[::1]",
    ":5000",
    "%",
    "%2e",
    " ",
    "\t",
    "+",
    "~",
    "$",
    "ü",
    "\u{430}",
    "\u{200b}",
    "🐳",
    "\0",
    "sha256:",
    "sha512:",
    "md5:",
    f64!(),
    "docker.io",
    "index.docker.io",
    "REGISTRY-1.DOCKER.IO",
    "localhost",
    "library",
    "nginx",
    "latest",
    "ghcr.io/",
    "EVILHOST/",
];

#[test]
fn never_panics_and_every_success_round_trips() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0usize;
    for _ in 0..60_000 {
        let mut input = String::new();
        for _ in 0..rng.below(12) {
            input.push_str(rng.pick(PIECES).copied().unwrap_or_default());
        }
        exercise(&input, &mut parsed);
    }
    // The generator reaches valid references too, not only errors.
    assert!(parsed > 1_000, "only {parsed} generated inputs parsed");
}

#[test]
fn mutated_valid_inputs_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut parsed = 0usize;
    for row in VALID {
        for _ in 0..200 {
            let mut chars: Vec<char> = row.input.chars().collect();
            for _ in 0..=rng.below(3) {
                let at = rng.below(chars.len() + 1);
                let piece = rng.pick(PIECES).copied().unwrap_or_default();
                match rng.below(3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 if at < chars.len() => {
                        if let (Some(slot), Some(c)) = (chars.get_mut(at), piece.chars().next()) {
                            *slot = c;
                        }
                    }
                    _ => {
                        for (i, c) in piece.chars().enumerate() {
                            chars.insert((at + i).min(chars.len()), c);
                        }
                    }
                }
            }
            let input: String = chars.into_iter().collect();
            exercise(&input, &mut parsed);
        }
    }
    assert!(parsed > 100, "only {parsed} mutated inputs parsed");
}

/// Parses `input` (and feeds it to every helper); a success must round-trip
/// and agree with the helpers.
fn exercise(input: &str, parsed: &mut usize) {
    let _ = grammar::split_domain(input);
    let _ = grammar::split_host_port(input);
    let _ = grammar::split_tag(input);
    let _ = grammar::is_domain(input);
    let _ = grammar::check_domain(input);
    let _ = grammar::is_path_component(input);
    let _ = grammar::check_path(input);
    let _ = grammar::is_tag(input);
    let _ = grammar::check_tag(input);
    let _ = grammar::parse_digest(input);
    let _ = normalize::canonical_domain(input);
    match Reference::parse(input) {
        Ok(r) => {
            *parsed += 1;
            assert_round_trip(&r);
            assert!(
                grammar::is_domain(r.domain()),
                "{input:?}: domain {:?}",
                r.domain()
            );
            assert!(
                grammar::check_path(r.path()).is_ok(),
                "{input:?}: path {:?}",
                r.path()
            );
            assert!(r.tag().is_none_or(grammar::is_tag), "{input:?}");
            assert!(
                r.digest().is_none_or(|d| grammar::parse_digest(d).is_ok()),
                "{input:?}"
            );
            assert!(input.is_ascii(), "{input:?} parsed but is not ASCII");
            assert!(!input.contains('%'), "{input:?} parsed but has '%'");
            assert!(
                !input.contains(char::is_whitespace),
                "{input:?} parsed but has whitespace"
            );
        }
        Err(e) => {
            // Every error renders.
            assert!(!e.to_string().is_empty());
        }
    }
}
