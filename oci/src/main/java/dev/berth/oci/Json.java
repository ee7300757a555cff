package dev.berth.oci;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The one JSON mapper for OCI documents: lenient on unknown fields, strict on digests. */
public final class Json {
    private Json() {}

    public static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .registerModule(new SimpleModule("oci")
                    .addSerializer(Digest.class, new JsonSerializer<>() {
                        @Override
                        public void serialize(Digest d, JsonGenerator g, SerializerProvider p) throws IOException {
                            g.writeString(d.toString());
                        }
                    })
                    .addDeserializer(Digest.class, new JsonDeserializer<>() {
                        @Override
                        public Digest deserialize(JsonParser p, DeserializationContext c) throws IOException {
                            return Digest.parse(p.getValueAsString());
                        }
                    }));

    public static <T> T read(byte[] json, Class<T> type, String what) {
        try {
            T value = MAPPER.readValue(json, type);
            if (value == null) throw new OciException("malformed " + what + ": the document is JSON null");
            return value;
        } catch (IOException | IllegalArgumentException e) {
            throw new OciException("malformed " + what + ": " + firstLine(e.getMessage()));
        }
    }

    public static byte[] write(Object o) {
        try {
            return MAPPER.writeValueAsBytes(o);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "unreadable JSON";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
