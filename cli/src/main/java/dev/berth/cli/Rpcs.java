package dev.berth.cli;

import com.google.protobuf.Empty;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.berth.api.services.attach.v1.AttachInput;
import dev.berth.api.services.attach.v1.AttachOutput;
import dev.berth.api.services.containers.v1.CreateContainerRequest;
import dev.berth.api.services.containers.v1.CreateContainerResponse;
import dev.berth.api.services.containers.v1.DeleteContainerRequest;
import dev.berth.api.services.containers.v1.GetContainerRequest;
import dev.berth.api.services.containers.v1.GetContainerResponse;
import dev.berth.api.services.containers.v1.ListContainersRequest;
import dev.berth.api.services.containers.v1.ListContainersResponse;
import dev.berth.api.services.content.v1.DeleteContentRequest;
import dev.berth.api.services.content.v1.ListContentRequest;
import dev.berth.api.services.content.v1.ListContentResponse;
import dev.berth.api.services.images.v1.ArchiveChunk;
import dev.berth.api.services.images.v1.DeleteImageRequest;
import dev.berth.api.services.images.v1.ExportImagesRequest;
import dev.berth.api.services.images.v1.GarbageCollectRequest;
import dev.berth.api.services.images.v1.GarbageCollectResponse;
import dev.berth.api.services.images.v1.ImageInfo;
import dev.berth.api.services.images.v1.ImportImagesResponse;
import dev.berth.api.services.images.v1.InspectImageRequest;
import dev.berth.api.services.images.v1.InspectImageResponse;
import dev.berth.api.services.images.v1.ListImageInfoRequest;
import dev.berth.api.services.images.v1.ListImageInfoResponse;
import dev.berth.api.services.images.v1.PullProgress;
import dev.berth.api.services.images.v1.PullRequest;
import dev.berth.api.services.images.v1.TagImageRequest;
import dev.berth.api.services.logs.v1.LogChunk;
import dev.berth.api.services.logs.v1.ReadLogsRequest;
import dev.berth.api.services.snapshots.v1.ListSnapshotsRequest;
import dev.berth.api.services.snapshots.v1.ListSnapshotsResponse;
import dev.berth.api.services.snapshots.v1.RemoveSnapshotRequest;
import dev.berth.api.services.snapshots.v1.UsageRequest;
import dev.berth.api.services.snapshots.v1.UsageResponse;
import dev.berth.api.services.tasks.v1.CreateTaskRequest;
import dev.berth.api.services.tasks.v1.CreateTaskResponse;
import dev.berth.api.services.tasks.v1.DeleteResponse;
import dev.berth.api.services.tasks.v1.DeleteTaskRequest;
import dev.berth.api.services.tasks.v1.GetRequest;
import dev.berth.api.services.tasks.v1.GetResponse;
import dev.berth.api.services.tasks.v1.KillRequest;
import dev.berth.api.services.tasks.v1.ListPidsRequest;
import dev.berth.api.services.tasks.v1.ListPidsResponse;
import dev.berth.api.services.tasks.v1.ListTasksRequest;
import dev.berth.api.services.tasks.v1.ListTasksResponse;
import dev.berth.api.services.tasks.v1.MetricsRequest;
import dev.berth.api.services.tasks.v1.MetricsResponse;
import dev.berth.api.services.tasks.v1.PauseTaskRequest;
import dev.berth.api.services.tasks.v1.ResumeTaskRequest;
import dev.berth.api.services.tasks.v1.StartRequest;
import dev.berth.api.services.tasks.v1.StartResponse;
import dev.berth.api.services.tasks.v1.UpdateTaskRequest;
import dev.berth.api.services.tasks.v1.WaitRequest;
import dev.berth.api.services.tasks.v1.WaitResponse;
import dev.berth.api.services.version.v1.VersionResponse;
import dev.berth.cli.rpc.Method;
import java.io.IOException;

/**
 * Every node agent RPC the CLI makes, named as the agent's protos (api/) declare them, with protobuf-lite codecs.
 * One holder class per service, so a command initialises only the services it calls.
 */
final class Rpcs {
    private Rpcs() {}

    static final class Containers {
        private static final String S = "containerd.services.containers.v1.Containers";
        static final Method<GetContainerRequest, GetContainerResponse> GET = method(S, "Get", GetContainerResponse.parser());
        static final Method<ListContainersRequest, ListContainersResponse> LIST = method(S, "List", ListContainersResponse.parser());
        static final Method<CreateContainerRequest, CreateContainerResponse> CREATE = method(S, "Create", CreateContainerResponse.parser());
        static final Method<DeleteContainerRequest, Empty> DELETE = method(S, "Delete", Empty.parser());
    }

    static final class Tasks {
        private static final String S = "containerd.services.tasks.v1.Tasks";
        static final Method<CreateTaskRequest, CreateTaskResponse> CREATE = method(S, "Create", CreateTaskResponse.parser());
        static final Method<StartRequest, StartResponse> START = method(S, "Start", StartResponse.parser());
        static final Method<DeleteTaskRequest, DeleteResponse> DELETE = method(S, "Delete", DeleteResponse.parser());
        static final Method<GetRequest, GetResponse> GET = method(S, "Get", GetResponse.parser());
        static final Method<ListTasksRequest, ListTasksResponse> LIST = method(S, "List", ListTasksResponse.parser());
        static final Method<KillRequest, Empty> KILL = method(S, "Kill", Empty.parser());
        static final Method<PauseTaskRequest, Empty> PAUSE = method(S, "Pause", Empty.parser());
        static final Method<ResumeTaskRequest, Empty> RESUME = method(S, "Resume", Empty.parser());
        static final Method<ListPidsRequest, ListPidsResponse> LIST_PIDS = method(S, "ListPids", ListPidsResponse.parser());
        static final Method<UpdateTaskRequest, Empty> UPDATE = method(S, "Update", Empty.parser());
        static final Method<MetricsRequest, MetricsResponse> METRICS = method(S, "Metrics", MetricsResponse.parser());
        static final Method<WaitRequest, WaitResponse> WAIT = method(S, "Wait", WaitResponse.parser());
    }

    static final class Images {
        private static final String S = "containerd.services.images.v1.Images";
        static final Method<DeleteImageRequest, Empty> DELETE = method(S, "Delete", Empty.parser());
    }

    static final class ImageTools {
        private static final String S = "berth.services.images.v1.ImageTools";
        static final Method<PullRequest, PullProgress> PULL = method(S, "Pull", PullProgress.parser());
        static final Method<ListImageInfoRequest, ListImageInfoResponse> LIST = method(S, "List", ListImageInfoResponse.parser());
        static final Method<InspectImageRequest, InspectImageResponse> INSPECT = method(S, "Inspect", InspectImageResponse.parser());
        static final Method<ExportImagesRequest, ArchiveChunk> EXPORT = method(S, "Export", ArchiveChunk.parser());
        static final Method<ArchiveChunk, ImportImagesResponse> IMPORT = method(S, "Import", ImportImagesResponse.parser());
        static final Method<TagImageRequest, ImageInfo> TAG = method(S, "Tag", ImageInfo.parser());
        static final Method<GarbageCollectRequest, GarbageCollectResponse> GC = method(S, "GarbageCollect", GarbageCollectResponse.parser());
    }

    static final class Logs {
        static final Method<ReadLogsRequest, LogChunk> READ = method("berth.services.logs.v1.Logs", "Read", LogChunk.parser());
    }

    static final class Attach {
        static final Method<AttachInput, AttachOutput> ATTACH = method("berth.services.attach.v1.Attach", "Attach", AttachOutput.parser());
    }

    static final class Snapshots {
        private static final String S = "containerd.services.snapshots.v1.Snapshots";
        static final Method<ListSnapshotsRequest, ListSnapshotsResponse> LIST = method(S, "List", ListSnapshotsResponse.parser());
        static final Method<UsageRequest, UsageResponse> USAGE = method(S, "Usage", UsageResponse.parser());
        static final Method<RemoveSnapshotRequest, Empty> REMOVE = method(S, "Remove", Empty.parser());
    }

    static final class Content {
        private static final String S = "containerd.services.content.v1.Content";
        static final Method<ListContentRequest, ListContentResponse> LIST = method(S, "List", ListContentResponse.parser());
        static final Method<DeleteContentRequest, Empty> DELETE = method(S, "Delete", Empty.parser());
    }

    static final class Version {
        static final Method<Empty, VersionResponse> VERSION = method("containerd.services.version.v1.Version", "Version", VersionResponse.parser());
    }

    private static <Req extends MessageLite, Resp> Method<Req, Resp> method(String service, String name, Parser<Resp> parser) {
        return Method.of(service, name, new Encode<Req>(), new Decode<>(parser));
    }

    /** Named classes rather than lambdas: nothing to bootstrap when a command first calls. */
    private static final class Encode<T extends MessageLite> implements Method.Encoder<T> {
        @Override
        public byte[] encode(T message) {
            return message.toByteArray();
        }
    }

    private static final class Decode<T> implements Method.Decoder<T> {
        private final Parser<T> parser;

        Decode(Parser<T> parser) {
            this.parser = parser;
        }

        @Override
        public T decode(byte[] bytes) throws IOException {
            return parser.parseFrom(bytes);
        }
    }
}
