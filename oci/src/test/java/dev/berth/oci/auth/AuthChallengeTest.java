package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class AuthChallengeTest {

    @Test
    void bearerWithQuotedParameters() {
        List<AuthChallenge> cs = AuthChallenge.parse(List.of(
                "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\""));
        assertEquals(1, cs.size());
        AuthChallenge c = cs.get(0);
        assertTrue(c.isBearer());
        assertEquals("https://auth.docker.io/token", c.param("realm"));
        assertEquals("registry.docker.io", c.param("service"));
        assertEquals("repository:library/busybox:pull", c.param("scope"), "commas and colons inside quotes stay");
    }

    @Test
    void severalChallengesAndUnquotedValues() {
        List<AuthChallenge> cs = AuthChallenge.parse(List.of("Basic realm=\"Registry Realm\", Bearer realm=https://a.example/token, service=svc",
                "Negotiate"));
        assertEquals(List.of("basic", "bearer", "negotiate"), cs.stream().map(AuthChallenge::scheme).toList());
        assertEquals("Registry Realm", cs.get(0).param("realm"));
        assertEquals("https://a.example/token", cs.get(1).param("realm"));
        assertEquals("svc", cs.get(1).param("service"));
        assertEquals("bearer", AuthChallenge.preferred(cs).orElseThrow().scheme(), "bearer is preferred");
        assertEquals("basic", AuthChallenge.preferred(AuthChallenge.parse(List.of("BASIC realm=x"))).orElseThrow().scheme());
        assertTrue(AuthChallenge.preferred(AuthChallenge.parse(List.of("Negotiate"))).isEmpty());
        assertTrue(AuthChallenge.parse(List.of("")).isEmpty());
    }
}
