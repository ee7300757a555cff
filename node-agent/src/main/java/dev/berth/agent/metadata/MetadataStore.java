package dev.berth.agent.metadata;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The agent's local, transactional record of images, snapshots, containers and tasks (SQLite, WAL, fully synced).
 * One connection, serialised: SQLite has one writer at a time anyway, and every statement here is short.
 */
public final class MetadataStore implements AutoCloseable {

    private final Connection db;
    private final long incarnation;
    private final java.util.Map<String, PreparedStatement> statements = new java.util.HashMap<>();

    public MetadataStore(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        try {
            // the driver directly, not DriverManager: its registry depends on which class loader asks
            db = new org.sqlite.JDBC().connect("jdbc:sqlite:" + file, new java.util.Properties());
            try (Statement s = db.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=FULL");
                s.execute("PRAGMA foreign_keys=ON");
                s.execute("PRAGMA busy_timeout=5000");
                s.execute("""
                        CREATE TABLE IF NOT EXISTS images (
                          namespace TEXT NOT NULL, name TEXT NOT NULL,
                          media_type TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
                          manifest_digest TEXT NOT NULL, config_digest TEXT NOT NULL, chain_id TEXT NOT NULL,
                          unpacked_size INTEGER NOT NULL, labels TEXT NOT NULL DEFAULT '{}',
                          created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
                          PRIMARY KEY (namespace, name))""");
                s.execute("""
                        CREATE TABLE IF NOT EXISTS snapshots (
                          id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
                          parent TEXT, kind TEXT NOT NULL, created_at INTEGER NOT NULL)""");
                s.execute("""
                        CREATE TABLE IF NOT EXISTS containers (
                          namespace TEXT NOT NULL, id TEXT NOT NULL, image TEXT NOT NULL,
                          runtime TEXT NOT NULL, snapshot_key TEXT NOT NULL, spec TEXT NOT NULL,
                          labels TEXT NOT NULL DEFAULT '{}', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
                          PRIMARY KEY (namespace, id))""");
                s.execute("""
                        CREATE TABLE IF NOT EXISTS tasks (
                          namespace TEXT NOT NULL, container_id TEXT NOT NULL,
                          pid INTEGER NOT NULL, status TEXT NOT NULL,
                          exit_code INTEGER, exit_signal INTEGER, exited_at INTEGER, created_at INTEGER NOT NULL,
                          PRIMARY KEY (namespace, container_id),
                          FOREIGN KEY (namespace, container_id) REFERENCES containers(namespace, id) ON DELETE CASCADE)""");
                migrate(s);
                try (ResultSet rs = s.executeQuery("SELECT incarnation FROM store_identity")) {
                    rs.next();
                    incarnation = rs.getLong(1);
                }
            }
        } catch (SQLException e) {
            throw new IOException("cannot open the agent's metadata store " + file + ": " + e.getMessage(), e);
        }
    }

    /** Schema changes after the first release, one step per {@code user_version}. */
    private static void migrate(Statement s) throws SQLException {
        int version;
        try (ResultSet rs = s.executeQuery("PRAGMA user_version")) {
            version = rs.next() ? rs.getInt(1) : 0;
        }
        if (version < 1) {
            s.execute("ALTER TABLE tasks ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0");
            s.execute("ALTER TABLE containers ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0");
            s.execute("ALTER TABLE containers ADD COLUMN stopped_by_user INTEGER NOT NULL DEFAULT 0");
            s.execute("""
                    CREATE TABLE IF NOT EXISTS execs (
                      namespace TEXT NOT NULL, container_id TEXT NOT NULL, exec_id TEXT NOT NULL,
                      pid INTEGER NOT NULL, status TEXT NOT NULL, exit_code INTEGER, exit_signal INTEGER, exited_at INTEGER,
                      PRIMARY KEY (namespace, container_id, exec_id),
                      FOREIGN KEY (namespace, container_id) REFERENCES tasks(namespace, container_id) ON DELETE CASCADE)""");
            s.execute("PRAGMA user_version=1");
        }
        if (version < 2) {
            // the transactional outbox: each state change's event, committed with it, published later
            s.execute("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, envelope TEXT NOT NULL)");
            s.execute("CREATE TABLE IF NOT EXISTS event_sequences (subject TEXT PRIMARY KEY, seq INTEGER NOT NULL)");
            s.execute("PRAGMA user_version=2");
        }
        if (version < 3) {
            // which life of this store its event sequences belong to: a store made anew (lost, wiped) starts every
            // counter at 1 again, under a later incarnation (see EventEnvelope)
            s.execute("CREATE TABLE IF NOT EXISTS store_identity (incarnation INTEGER NOT NULL)");
            java.time.Instant now = java.time.Instant.now();
            s.execute("INSERT INTO store_identity SELECT " + (now.getEpochSecond() * 1_000_000 + now.getNano() / 1_000)
                    + " WHERE NOT EXISTS (SELECT 1 FROM store_identity)");
            s.execute("PRAGMA user_version=3");
        }
    }

    // ---- images

    public record ImageRecord(String namespace, String name, String mediaType, String digest, long size,
                              String manifestDigest, String configDigest, String chainId, long unpackedSize,
                              String labels, long createdAt, long updatedAt) {}

    public synchronized void putImage(ImageRecord r) {
        update("""
                INSERT INTO images VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
                ON CONFLICT(namespace, name) DO UPDATE SET media_type=excluded.media_type, digest=excluded.digest,
                  size=excluded.size, manifest_digest=excluded.manifest_digest, config_digest=excluded.config_digest,
                  chain_id=excluded.chain_id, unpacked_size=excluded.unpacked_size, labels=excluded.labels,
                  updated_at=excluded.updated_at""",
                r.namespace, r.name, r.mediaType, r.digest, r.size, r.manifestDigest, r.configDigest, r.chainId,
                r.unpackedSize, r.labels, r.createdAt, r.updatedAt);
    }

    public synchronized Optional<ImageRecord> image(String ns, String name) {
        return query("SELECT * FROM images WHERE namespace=? AND name=?", MetadataStore::image, ns, name).stream().findFirst();
    }

    public synchronized List<ImageRecord> images(String ns) {
        return query("SELECT * FROM images WHERE namespace=? ORDER BY name", MetadataStore::image, ns);
    }

    public synchronized List<ImageRecord> allImages() {
        return query("SELECT * FROM images", MetadataStore::image);
    }

    public synchronized boolean deleteImage(String ns, String name) {
        return update("DELETE FROM images WHERE namespace=? AND name=?", ns, name) > 0;
    }

    private static ImageRecord image(ResultSet rs) throws SQLException {
        return new ImageRecord(rs.getString("namespace"), rs.getString("name"), rs.getString("media_type"), rs.getString("digest"),
                rs.getLong("size"), rs.getString("manifest_digest"), rs.getString("config_digest"), rs.getString("chain_id"),
                rs.getLong("unpacked_size"), rs.getString("labels"), rs.getLong("created_at"), rs.getLong("updated_at"));
    }

    // ---- snapshots

    public record SnapshotRecord(long id, String key, String parent, String kind, long createdAt) {}

    public synchronized SnapshotRecord addSnapshot(String key, String parent, String kind) {
        long now = System.currentTimeMillis();
        update("INSERT INTO snapshots(key, parent, kind, created_at) VALUES (?,?,?,?)", key, parent, kind, now);
        return snapshot(key).orElseThrow();
    }

    public synchronized Optional<SnapshotRecord> snapshot(String key) {
        return query("SELECT * FROM snapshots WHERE key=?", MetadataStore::snapshot, key).stream().findFirst();
    }

    public synchronized List<SnapshotRecord> snapshots() {
        return query("SELECT * FROM snapshots ORDER BY id", MetadataStore::snapshot);
    }

    public synchronized void renameSnapshot(String from, String to, String kind) {
        update("UPDATE snapshots SET key=?, kind=? WHERE key=?", to, kind, from);
    }

    public synchronized boolean deleteSnapshot(String key) {
        return update("DELETE FROM snapshots WHERE key=?", key) > 0;
    }

    private static SnapshotRecord snapshot(ResultSet rs) throws SQLException {
        return new SnapshotRecord(rs.getLong("id"), rs.getString("key"), rs.getString("parent"), rs.getString("kind"), rs.getLong("created_at"));
    }

    // ---- containers

    public record ContainerRecord(String namespace, String id, String image, String runtime, String snapshotKey,
                                  String spec, String labels, long createdAt, long updatedAt) {}

    /** Inserts a container; false when the id is taken in that namespace. */
    public synchronized boolean addContainer(ContainerRecord c) {
        try {
            update("INSERT INTO containers (namespace, id, image, runtime, snapshot_key, spec, labels, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)", c.namespace, c.id, c.image, c.runtime, c.snapshotKey,
                    c.spec, c.labels, c.createdAt, c.updatedAt);
            return true;
        } catch (MetadataException e) {
            if (e.getCause() instanceof org.sqlite.SQLiteException s
                    && (s.getResultCode() == org.sqlite.SQLiteErrorCode.SQLITE_CONSTRAINT_PRIMARYKEY
                        || s.getResultCode() == org.sqlite.SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE)) {
                return false;
            }
            throw e;
        }
    }

    public synchronized Optional<ContainerRecord> container(String ns, String id) {
        return query("SELECT * FROM containers WHERE namespace=? AND id=?", MetadataStore::container, ns, id).stream().findFirst();
    }

    public synchronized List<ContainerRecord> containers(String ns) {
        return query("SELECT * FROM containers WHERE namespace=? ORDER BY created_at", MetadataStore::container, ns);
    }

    public synchronized boolean deleteContainer(String ns, String id) {
        return update("DELETE FROM containers WHERE namespace=? AND id=?", ns, id) > 0;
    }

    /** How often the node restarted a container, and whether its user stopped it (which ends restarts). */
    public record RestartState(int restartCount, boolean stoppedByUser) {}

    public synchronized RestartState restartState(String ns, String id) {
        return query("SELECT restart_count, stopped_by_user FROM containers WHERE namespace=? AND id=?",
                rs -> new RestartState(rs.getInt(1), rs.getInt(2) != 0), ns, id).stream().findFirst().orElse(new RestartState(0, false));
    }

    public synchronized void setStoppedByUser(String ns, String id, boolean stopped) {
        update("UPDATE containers SET stopped_by_user=? WHERE namespace=? AND id=?", stopped ? 1 : 0, ns, id);
    }

    /** A user's start: restart policies count from zero again and may act again (docker start does the same). */
    public synchronized void resetRestartState(String ns, String id) {
        // only a real change writes (and syncs): both are almost always clear already
        update("UPDATE containers SET stopped_by_user=0, restart_count=0 WHERE namespace=? AND id=? AND (stopped_by_user<>0 OR restart_count<>0)", ns, id);
    }

    public synchronized void countRestart(String ns, String id) {
        update("UPDATE containers SET restart_count=restart_count+1 WHERE namespace=? AND id=?", ns, id);
    }

    private static ContainerRecord container(ResultSet rs) throws SQLException {
        return new ContainerRecord(rs.getString("namespace"), rs.getString("id"), rs.getString("image"), rs.getString("runtime"),
                rs.getString("snapshot_key"), rs.getString("spec"), rs.getString("labels"), rs.getLong("created_at"), rs.getLong("updated_at"));
    }

    // ---- tasks

    public record TaskRecord(String namespace, String containerId, int pid, String status,
                             Integer exitCode, Integer exitSignal, Long exitedAt, long createdAt, boolean oomKilled) {}

    public synchronized void putTask(TaskRecord t) {
        update("""
                INSERT INTO tasks (namespace, container_id, pid, status, exit_code, exit_signal, exited_at, created_at, oom_killed)
                VALUES (?,?,?,?,?,?,?,?,?)
                ON CONFLICT(namespace, container_id) DO UPDATE SET pid=excluded.pid, status=excluded.status,
                  exit_code=excluded.exit_code, exit_signal=excluded.exit_signal, exited_at=excluded.exited_at,
                  oom_killed=excluded.oom_killed""",
                t.namespace, t.containerId, t.pid, t.status, t.exitCode, t.exitSignal, t.exitedAt, t.createdAt, t.oomKilled ? 1 : 0);
    }

    /** Moves a live task between RUNNING and PAUSED; false when it is in neither (it may have exited). */
    public synchronized boolean setLiveStatus(String ns, String id, String from, String to) {
        return update("UPDATE tasks SET status=? WHERE namespace=? AND container_id=? AND status=?", to, ns, id, from) > 0;
    }

    // ---- exec processes

    public record ExecRecord(String namespace, String containerId, String execId, int pid, String status,
                             Integer exitCode, Integer exitSignal, Long exitedAt) {}

    public synchronized void putExec(ExecRecord e) {
        update("""
                INSERT INTO execs VALUES (?,?,?,?,?,?,?,?)
                ON CONFLICT(namespace, container_id, exec_id) DO UPDATE SET pid=excluded.pid, status=excluded.status,
                  exit_code=excluded.exit_code, exit_signal=excluded.exit_signal, exited_at=excluded.exited_at""",
                e.namespace, e.containerId, e.execId, e.pid, e.status, e.exitCode, e.exitSignal, e.exitedAt);
    }

    public synchronized Optional<ExecRecord> exec(String ns, String id, String execId) {
        return query("SELECT * FROM execs WHERE namespace=? AND container_id=? AND exec_id=?", MetadataStore::exec, ns, id, execId).stream().findFirst();
    }

    public synchronized List<ExecRecord> execs(String ns, String id) {
        return query("SELECT * FROM execs WHERE namespace=? AND container_id=?", MetadataStore::exec, ns, id);
    }

    public synchronized List<ExecRecord> liveExecs() {
        return query("SELECT * FROM execs WHERE status<>'STOPPED'", MetadataStore::exec);
    }

    public synchronized boolean deleteExec(String ns, String id, String execId) {
        return update("DELETE FROM execs WHERE namespace=? AND container_id=? AND exec_id=?", ns, id, execId) > 0;
    }

    private static ExecRecord exec(ResultSet rs) throws SQLException {
        return new ExecRecord(rs.getString("namespace"), rs.getString("container_id"), rs.getString("exec_id"), rs.getInt("pid"),
                rs.getString("status"), (Integer) rs.getObject("exit_code"), (Integer) rs.getObject("exit_signal"),
                rs.getObject("exited_at") == null ? null : rs.getLong("exited_at"));
    }

    /** CREATED becomes RUNNING; false when the task has moved on already (it may have exited that fast). */
    public synchronized boolean markRunning(String ns, String id) {
        return update("UPDATE tasks SET status='RUNNING' WHERE namespace=? AND container_id=? AND status='CREATED'", ns, id) > 0;
    }

    public synchronized Optional<TaskRecord> task(String ns, String id) {
        return query("SELECT * FROM tasks WHERE namespace=? AND container_id=?", MetadataStore::task, ns, id).stream().findFirst();
    }

    public synchronized List<TaskRecord> tasks() {
        return query("SELECT * FROM tasks", MetadataStore::task);
    }

    public synchronized List<TaskRecord> tasks(String ns) {
        return query("SELECT * FROM tasks WHERE namespace=?", MetadataStore::task, ns);
    }

    public synchronized boolean deleteTask(String ns, String id) {
        return update("DELETE FROM tasks WHERE namespace=? AND container_id=?", ns, id) > 0;
    }

    private static TaskRecord task(ResultSet rs) throws SQLException {
        return new TaskRecord(rs.getString("namespace"), rs.getString("container_id"), rs.getInt("pid"), rs.getString("status"),
                (Integer) rs.getObject("exit_code"), (Integer) rs.getObject("exit_signal"),
                rs.getObject("exited_at") == null ? null : rs.getLong("exited_at"), rs.getLong("created_at"), rs.getInt("oom_killed") != 0);
    }

    // ---- transactions and the outbox

    /** Work on the store that either commits whole or leaves nothing. */
    public interface Work<T> {
        T run() throws Exception;
    }

    /** Receives a state change's event inside the transaction that makes the change (see {@link #event}). */
    public interface EventHook {
        void record(String namespace, String subjectId, Record payload);
    }

    private volatile EventHook eventHook;
    private int txDepth;

    public void onEvent(EventHook hook) {
        this.eventHook = hook;
    }

    /** Runs {@code work} in one SQLite transaction (nested calls join the outer one). */
    public synchronized <T> T inTransaction(Work<T> work) {
        if (txDepth > 0) {
            txDepth++;
            try {
                return work.run();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new MetadataException(e);
            } finally {
                txDepth--;
            }
        }
        try {
            db.setAutoCommit(false);
            txDepth = 1;
            T result = work.run();
            db.commit();
            return result;
        } catch (Error e) {
            try {
                db.rollback(); // never let restoring autocommit commit half the work
            } catch (SQLException r) {
                e.addSuppressed(r);
            }
            throw e;
        } catch (Exception e) {
            try {
                db.rollback();
            } catch (SQLException r) {
                e.addSuppressed(r);
            }
            if (e instanceof RuntimeException re) throw re;
            throw new MetadataException(e);
        } finally {
            txDepth = 0;
            try {
                db.setAutoCommit(true);
            } catch (SQLException e) {
                LOG_ERR.warning("cannot restore autocommit: " + e.getMessage());
            }
        }
    }

    /** Records an event of a subject in the current transaction (a no-op when events are off). */
    public synchronized void event(String namespace, String subjectId, Record payload) {
        EventHook h = eventHook;
        if (h != null) h.record(namespace, subjectId, payload);
    }

    /** When this store was created, in microseconds since the epoch: the incarnation its events carry. */
    public long incarnation() {
        return incarnation;
    }

    /** The subject's next event sequence number: 1, 2, ... never reused. */
    public synchronized long nextSequence(String subject) {
        update("INSERT INTO event_sequences VALUES (?, 1) ON CONFLICT(subject) DO UPDATE SET seq=seq+1", subject);
        return query("SELECT seq FROM event_sequences WHERE subject=?", rs -> rs.getLong(1), subject).get(0);
    }

    public synchronized void appendOutbox(String envelopeJson) {
        update("INSERT INTO outbox (envelope) VALUES (?)", envelopeJson);
    }

    public record OutboxRow(long id, String envelope) {}

    public synchronized List<OutboxRow> unsentOutbox(int max) {
        return query("SELECT id, envelope FROM outbox ORDER BY id LIMIT ?", rs -> new OutboxRow(rs.getLong(1), rs.getString(2)), max);
    }

    /**
     * Deletes exactly these outbox rows, in one statement (one commit, one fsync, outside a transaction). The ids
     * go in as one JSON array parameter: a relay batch may have holes (records Kafka did not acknowledge), so a
     * range would be wrong, and an {@code IN (?,?,...)} list would be a new statement for every batch size.
     */
    public synchronized int deleteOutbox(List<Long> ids) {
        if (ids.isEmpty()) return 0;
        StringBuilder array = new StringBuilder(ids.size() * 8).append('[');
        for (long id : ids) {
            if (array.length() > 1) array.append(',');
            array.append(id);
        }
        return update("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))", array.append(']').toString());
    }

    public synchronized long outboxSize() {
        return query("SELECT COUNT(*) FROM outbox", rs -> rs.getLong(1)).get(0);
    }

    private static final java.util.logging.Logger LOG_ERR = java.util.logging.Logger.getLogger(MetadataStore.class.getName());

    // ---- plumbing

    private interface Row<T> {
        T map(ResultSet rs) throws SQLException;
    }

    private <T> List<T> query(String sql, Row<T> row, Object... args) {
        try {
            PreparedStatement ps = prepared(sql, args);
            try (ResultSet rs = ps.executeQuery()) {
                List<T> out = new ArrayList<>();
                while (rs.next()) out.add(row.map(rs));
                return out;
            }
        } catch (SQLException e) {
            throw new MetadataException(e);
        }
    }

    private int update(String sql, Object... args) {
        try {
            return prepared(sql, args).executeUpdate();
        } catch (SQLException e) {
            throw new MetadataException(e);
        }
    }

    /**
     * The statement for {@code sql}, compiled once per store (every caller holds this store's monitor, and the SQL
     * texts are constants: the cache holds a few dozen), with {@code args} bound.
     */
    private PreparedStatement prepared(String sql, Object... args) throws SQLException {
        PreparedStatement ps = statements.get(sql);
        if (ps == null) {
            ps = db.prepareStatement(sql);
            statements.put(sql, ps);
        }
        ps.clearParameters();
        for (int i = 0; i < args.length; i++) ps.setObject(i + 1, args[i]);
        return ps;
    }

    @Override
    public synchronized void close() throws SQLException {
        for (PreparedStatement ps : statements.values()) ps.close();
        statements.clear();
        db.close();
    }

    /** A failure of the local store itself: the agent cannot go on safely without it. */
    public static final class MetadataException extends RuntimeException {
        MetadataException(Exception e) {
            super("metadata store: " + e.getMessage(), e);
        }
    }
}
