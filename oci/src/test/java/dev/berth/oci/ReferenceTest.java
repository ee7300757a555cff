package dev.berth.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ReferenceTest {

    private static final String HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    @Test
    void bareNameIsDockerHubOfficialImageAtLatest() {
        Reference r = Reference.parse("busybox");
        assertEquals("docker.io", r.registry(), "a bare name lives on Docker Hub");
        assertEquals("library/busybox", r.repository(), "a bare name is an official image under library/");
        assertEquals("latest", r.tag(), "no tag and no digest means :latest");
        assertNull(r.digest(), "no digest was named");
        assertEquals("docker.io/library/busybox:latest", r.toString(), "full normalised name of busybox");
        assertEquals("latest", r.manifestReference(), "the manifest is asked for by tag when there is no digest");
    }

    @Test
    void userRepositoryOnDockerHubKeepsItsNamespace() {
        Reference r = Reference.parse("user/app");
        assertEquals("docker.io", r.registry(), "user/app lives on Docker Hub: 'user' has no dot, colon, and is not localhost");
        assertEquals("user/app", r.repository(), "a namespaced Docker Hub repository does not get library/");
        assertEquals("docker.io/user/app:latest", r.toString(), "full normalised name of user/app");
    }

    @Test
    void explicitDockerIoStillGetsLibraryPrefix() {
        assertEquals("docker.io/library/busybox:1.36", Reference.parse("docker.io/busybox:1.36").toString(),
                "docker.io/busybox means the official image, as Docker normalises it");
    }

    @Test
    void localhostWithPortNestedRepositoryAndTag() {
        Reference r = Reference.parse("localhost:5000/a/b:tag");
        assertEquals("localhost:5000", r.registry(), "host:port before the first slash is the registry");
        assertEquals("a/b", r.repository(), "nested repository path is kept as is");
        assertEquals("tag", r.tag(), "the tag after the last colon past the last slash");
        assertEquals("localhost:5000", r.apiHost(), "a non-Hub registry is its own API host");
    }

    @Test
    void loopbackIpWithPortDefaultsToLatest() {
        Reference r = Reference.parse("127.0.0.1:5000/test/busybox");
        assertEquals("127.0.0.1:5000", r.registry(), "IP:port is the registry");
        assertEquals("test/busybox", r.repository(), "repository after the registry");
        assertEquals("latest", r.tag(), "the port's colon must not be taken for a tag; tag defaults to latest");
        assertEquals("127.0.0.1:5000/test/busybox:latest", r.toString(), "full name of a loopback image");
    }

    @Test
    void bracketedIpv6RegistryIsSupported() {
        Reference r = Reference.parse("[::1]:5000/x");
        assertEquals("[::1]:5000", r.registry(), "a bracketed IPv6 literal with port is the registry");
        assertEquals("x", r.repository(), "no library/ prefix outside Docker Hub");
        assertEquals("latest", r.tag(), "tag defaults to latest");
        assertTrue(r.isLoopback(), "[::1] is loopback");
    }

    @Test
    void digestOnlyReference() {
        Reference r = Reference.parse("registry.example.com/x/y@sha256:" + HEX);
        assertEquals("registry.example.com", r.registry(), "a dotted first component is the registry");
        assertEquals("x/y", r.repository(), "repository before the @");
        assertNull(r.tag(), "a digest reference without a tag gets no default tag");
        assertEquals(Digest.parse("sha256:" + HEX), r.digest(), "the digest after @ is parsed");
        assertEquals("sha256:" + HEX, r.manifestReference(), "the manifest is asked for by digest");
        assertEquals("registry.example.com/x/y@sha256:" + HEX, r.toString(), "digest reference round-trips");
    }

    @Test
    void tagAndDigestTogetherDigestWins() {
        Reference r = Reference.parse("registry.example.com/x/y:v1@sha256:" + HEX);
        assertEquals("v1", r.tag(), "the tag is kept alongside the digest");
        assertEquals("sha256:" + HEX, r.digest().toString(), "the digest is kept alongside the tag");
        assertEquals("sha256:" + HEX, r.manifestReference(), "when both are named the digest wins");
        assertEquals("registry.example.com/x/y:v1@sha256:" + HEX, r.toString(), "tag+digest reference round-trips");
    }

    @Test
    void dockerHubApiLivesOnRegistry1() {
        assertEquals("registry-1.docker.io", Reference.parse("busybox").apiHost(), "Docker Hub's API host is registry-1.docker.io");
        assertEquals("docker.io", Reference.parse("busybox").registry(), "while the registry is still written docker.io");
    }

    @ParameterizedTest(name = "{0} loopback={1}")
    @CsvSource({
            "127.0.0.1:5000/a, true",
            "127.1.2.3/a, true",
            "localhost/a, true",
            "localhost:5000/a, true",
            "[::1]:5000/a, true",
            "[::1]/a, true",
            "registry.example.com/a, false",
            "busybox, false",
            "10.0.0.1:5000/a, false",
            "127.example.com/a, false",
            "127.0.0.1.nip.io:5000/a, false",
            "localhost.example.com/a, false",
    })
    void loopbackDetection(String ref, boolean loopback) {
        assertEquals(loopback, Reference.parse(ref).isLoopback(),
                "isLoopback of " + ref + " (decides plain HTTP vs HTTPS; a public name must never get plain HTTP)");
    }

    @ParameterizedTest(name = "rejects \"{0}\"")
    @CsvSource(delimiter = '|', value = {
            "''                          | empty image reference",
            "'   '                       | empty image reference",
            "Busybox                     | invalid repository name 'library/Busybox'",
            "registry.example.com/My/App | invalid repository name 'My/App'",
            "busybox:bad!tag             | invalid tag 'bad!tag'",
            "busybox:                    | invalid tag ''",
            "busybox:-dash               | invalid tag '-dash'",
            "busybox@sha256:abc          | malformed sha256 digest 'abc'",
            "busybox@md5:abc             | unsupported digest algorithm 'md5'",
            "busybox@                    | malformed digest ''",
            "a//b                        | invalid repository name 'a//b'",
            "a/b/                        | invalid repository name 'a/b/'",
    })
    void rejectsWithClearMessage(String ref, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Reference.parse(ref),
                "parse must reject \"" + ref + "\"");
        assertTrue(e.getMessage().contains(expected),
                "message for \"" + ref + "\" should contain \"" + expected + "\" but was: " + e.getMessage());
    }

    @Test
    void rejectsNull() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Reference.parse(null), "null reference is rejected");
        assertTrue(e.getMessage().startsWith("empty image reference"), "null is reported as empty, got: " + e.getMessage());
    }

    @Test
    void rejectsOverlongTag() {
        String tag = "t".repeat(129);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Reference.parse("busybox:" + tag),
                "a tag over 128 characters is rejected");
        assertTrue(e.getMessage().contains("invalid tag"), "overlong tag message names the tag, got: " + e.getMessage());
        assertEquals(128, Reference.parse("busybox:" + "t".repeat(128)).tag().length(), "a 128-character tag is accepted");
    }

    @ParameterizedTest
    @ValueSource(strings = {"busybox:1.36.1", "busybox:v1_2-3", "ghcr.io/org/a.b/c__d:x", "example.com/a-b--c/d"})
    void acceptsValidNamesAndRoundTrips(String ref) {
        Reference r = Reference.parse(ref);
        assertEquals(r, Reference.parse(r.toString()), "the normalised name of " + ref + " parses back to the same reference");
    }

    @Test
    void withDigestKeepsNameAndTag() {
        Digest d = Digest.parse("sha256:" + HEX);
        Reference r = Reference.parse("example.com/a:v2").withDigest(d);
        assertEquals("example.com/a:v2@sha256:" + HEX, r.toString(), "withDigest adds the digest, keeps registry, repo, tag");
    }
}
