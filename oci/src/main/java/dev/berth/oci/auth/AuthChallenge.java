package dev.berth.oci.auth;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One challenge of a {@code WWW-Authenticate} header (RFC 7235), e.g. {@code Bearer realm="https://auth/token",
 * service="registry"}: the scheme, lowercased, and its parameters (names lowercased, values unquoted).
 */
public record AuthChallenge(String scheme, Map<String, String> params) {

    public AuthChallenge {
        scheme = scheme.toLowerCase(Locale.ROOT);
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
    }

    public boolean isBearer() {
        return scheme.equals("bearer");
    }

    public boolean isBasic() {
        return scheme.equals("basic");
    }

    public String param(String name) {
        return params.get(name.toLowerCase(Locale.ROOT));
    }

    /** The bearer challenge if any, else the basic one, else empty. */
    public static Optional<AuthChallenge> preferred(List<AuthChallenge> challenges) {
        for (AuthChallenge c : challenges) if (c.isBearer()) return Optional.of(c);
        for (AuthChallenge c : challenges) if (c.isBasic()) return Optional.of(c);
        return Optional.empty();
    }

    /** Parses every challenge in every value of the header; malformed parts are skipped. */
    public static List<AuthChallenge> parse(List<String> headerValues) {
        List<AuthChallenge> out = new ArrayList<>();
        for (String v : headerValues) parseInto(v, out);
        return out;
    }

    private static void parseInto(String s, List<AuthChallenge> out) {
        int i = 0;
        int n = s.length();
        String scheme = null;
        Map<String, String> params = new LinkedHashMap<>();
        while (i < n) {
            while (i < n && (s.charAt(i) == ' ' || s.charAt(i) == '\t' || s.charAt(i) == ',')) i++;
            if (i >= n) break;
            int start = i;
            while (i < n && isTokenChar(s.charAt(i))) i++;
            if (i == start) { // not a token: skip one character
                i++;
                continue;
            }
            String token = s.substring(start, i);
            int j = i;
            while (j < n && (s.charAt(j) == ' ' || s.charAt(j) == '\t')) j++;
            if (j < n && s.charAt(j) == '=') {
                // name=value; one before any scheme is dropped
                j++;
                while (j < n && (s.charAt(j) == ' ' || s.charAt(j) == '\t')) j++;
                String value;
                if (j < n && s.charAt(j) == '"') {
                    StringBuilder b = new StringBuilder();
                    j++;
                    while (j < n && s.charAt(j) != '"') {
                        if (s.charAt(j) == '\\' && j + 1 < n) j++;
                        b.append(s.charAt(j++));
                    }
                    j++; // closing quote
                    value = b.toString();
                } else {
                    int vs = j;
                    while (j < n && s.charAt(j) != ',' && s.charAt(j) != ' ' && s.charAt(j) != '\t') j++;
                    value = s.substring(vs, j);
                }
                if (scheme != null) params.putIfAbsent(token.toLowerCase(Locale.ROOT), value);
                i = j;
            } else {
                if (scheme != null) out.add(new AuthChallenge(scheme, params));
                scheme = token;
                params = new LinkedHashMap<>();
                i = j;
            }
        }
        if (scheme != null) out.add(new AuthChallenge(scheme, params));
    }

    private static boolean isTokenChar(char c) {
        return c > ' ' && c < 127 && "()<>@,;:\\\"/[]?={} \t".indexOf(c) < 0;
    }
}
