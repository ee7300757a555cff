package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.network.Networks;
import dev.berth.oci.ImageConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the spec says about the network: the namespace to make, the bridge asked for, the ports to publish. */
class SpecBuilderNetworkTest {

    private static final ImageConfig IMAGE = new ImageConfig("amd64", "linux", null, null, null, null, null);

    private static RunRequest request(String network, List<String> ports) {
        return new RunRequest(null, List.of("true"), null, null, null, null, null, network, null, null, null, null, null, ports, null);
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> namespaces(Map<String, Object> spec) {
        return (List<Map<String, Object>>) ((Map<String, Object>) spec.get("linux")).get("namespaces");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> annotations(Map<String, Object> spec) {
        return (Map<String, Object>) spec.get("annotations");
    }

    @Test
    void bridgeGetsItsOwnNamespaceAndIsMarkedForTheAgent() {
        Map<String, Object> spec = SpecBuilder.build("default", "web", IMAGE, request("bridge", List.of("8080:80", "127.0.0.1:5353:53/udp", "9000")));
        assertTrue(namespaces(spec).contains(Map.of("type", "network")));
        assertEquals("bridge", annotations(spec).get(Networks.MODE_ANNOTATION));
        assertEquals(":8080:80/tcp,127.0.0.1:5353:53/udp", annotations(spec).get(Networks.PUBLISH_ANNOTATION));
        assertEquals("53/udp,80/tcp,9000/tcp", annotations(spec).get(SpecBuilder.PORTS_ANNOTATION));
    }

    @Test
    void noneAndHostAreNotTheAgentsBusiness() {
        Map<String, Object> none = SpecBuilder.build("default", "a", IMAGE, request(null, null));
        assertTrue(namespaces(none).contains(Map.of("type", "network")));
        assertFalse(annotations(none).containsKey(Networks.MODE_ANNOTATION));
        Map<String, Object> host = SpecBuilder.build("default", "b", IMAGE, request("host", List.of("80")));
        assertTrue(namespaces(host).stream().noneMatch(n -> "network".equals(n.get("type"))));
        assertFalse(annotations(host).containsKey(Networks.PUBLISH_ANNOTATION));
    }

    @Test
    void publishingNeedsTheBridgeAndValidPorts() {
        var e = assertThrows(IllegalArgumentException.class, () -> SpecBuilder.build("default", "a", IMAGE, request("host", List.of("8080:80"))));
        assertTrue(e.getMessage().contains("needs --network bridge"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SpecBuilder.build("default", "a", IMAGE, request("bridge", List.of("70000:80"))));
        assertTrue(e.getMessage().contains("ports 1-65535"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SpecBuilder.build("default", "a", IMAGE, request("bridge", List.of("8080:80/icmp"))));
        assertTrue(e.getMessage().contains("must look like 8080:80"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SpecBuilder.build("default", "a", IMAGE, request("overlay", null)));
        assertTrue(e.getMessage().contains("use none, host or bridge"), e.getMessage());
    }
}
