package dev.berth.schedulerapi.faults;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Reads what the projector wrote, straight from Postgres (JDBC): the tests compare it with what happened. */
final class Projection {
    private static final String URL = System.getProperty("berth.it.jdbc-url", "jdbc:postgresql://127.0.0.1:5432/berth");

    private static Connection connect() throws SQLException {
        return DriverManager.getConnection(URL, "berth", "berth");
    }

    static long eventCount(String namespace) throws SQLException {
        try (Connection c = connect(); PreparedStatement s = c.prepareStatement("SELECT count(*) FROM event WHERE namespace = ?")) {
            s.setString(1, namespace);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    static Map<String, SimulatedAgent.Expected> containers(String namespace) throws SQLException {
        Map<String, SimulatedAgent.Expected> found = new HashMap<>();
        try (Connection c = connect(); PreparedStatement s = c.prepareStatement(
                "SELECT container_id, status, exit_code, last_sequence FROM container_state WHERE namespace = ?")) {
            s.setString(1, namespace);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    Integer exitCode = (Integer) r.getObject(3);
                    found.put(r.getString(1), new SimulatedAgent.Expected(r.getString(2), exitCode, r.getLong(4)));
                }
            }
        }
        return found;
    }

    /** Each container's timeline as its sequence numbers, in timeline order. */
    static Map<String, List<Long>> timelines(String namespace) throws SQLException {
        Map<String, List<Long>> timelines = new HashMap<>();
        try (Connection c = connect(); PreparedStatement s = c.prepareStatement(
                "SELECT subject_id, sequence FROM event WHERE namespace = ? ORDER BY subject_id, sequence, ingest_seq")) {
            s.setString(1, namespace);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    timelines.computeIfAbsent(r.getString(1), k -> new ArrayList<>()).add(r.getLong(2));
                }
            }
        }
        return timelines;
    }
}
