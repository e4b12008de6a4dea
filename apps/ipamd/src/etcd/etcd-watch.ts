import { create } from "@bufbuild/protobuf";
import type { ServiceError } from "@grpc/grpc-js";
import {
  Watch,
  WatchCreateRequest_FilterType,
  WatchRequestSchema,
  type WatchResponse,
} from "../gen/etcdserverpb/rpc_pb.js";
import type { Event } from "../gen/mvccpb/kv_pb.js";
import { IpamdError } from "../ipamd-error.js";
import type { EtcdClient } from "./etcd-client.js";
import { etcdError, etcdFailure } from "./etcd-errors.js";

/** What a {@link openWatch} reports. Each callback runs in stream order. */
export interface WatchHandlers {
  /** The watch is established; `revision` is the store's revision at that moment. */
  onCreated(revision: bigint): void;
  /** Events of one response, in revision order. The array is the callee's. */
  onEvents(events: Event[]): void;
  /**
   * The watch ended: canceled by etcd (with `details.etcd: "compacted"` when the start revision
   * was compacted, then `details.compactRevision` holds etcd's oldest revision), the stream
   * failed (member down, lost leader) or {@link WatchHandle.cancel} was called (SHUTTING_DOWN).
   * Called exactly once; nothing else is called afterwards.
   */
  onEnd(error: IpamdError): void;
}

/** A running watch. */
export interface WatchHandle {
  /** Which member serves it. */
  readonly endpoint: string;
  /** Ends the watch (onEnd receives SHUTTING_DOWN). */
  cancel(): void;
}

/** What to watch. */
export interface WatchSpec {
  readonly key: Uint8Array;
  /** Exclusive end (see `prefixEnd`); only `key` when absent. */
  readonly rangeEnd?: Uint8Array;
  /** First revision to deliver (inclusive). */
  readonly startRevision: bigint;
  /** Skip DELETE events (etcd filters them on its side). */
  readonly noDelete?: boolean;
}

/**
 * Opens one watch on its own stream on the client's current member. The stream asks etcd to
 * require a leader (`hasleader` metadata), so a member cut off from its quorum ends the watch
 * instead of going silent. The member is rotated when the stream fails.
 */
export async function openWatch(
  client: EtcdClient,
  spec: WatchSpec,
  handlers: WatchHandlers,
): Promise<WatchHandle> {
  const { endpoint, call } = await client.stream(Watch.method.watch, { requireLeader: true });
  let ended = false;
  const end = (error: IpamdError) => {
    if (ended) return;
    ended = true;
    call.removeAllListeners("data");
    call.cancel();
    handlers.onEnd(error);
  };
  call.on("data", (response: WatchResponse) => {
    if (ended) return;
    if (response.canceled) {
      const compacted = response.compactRevision > 0n;
      end(
        new IpamdError(
          "UNAVAILABLE",
          compacted
            ? `watch: revision ${spec.startRevision} was compacted (oldest is ${response.compactRevision})`
            : `watch: canceled by etcd: ${response.cancelReason || "no reason given"}`,
          {
            details: {
              etcd: compacted ? "compacted" : "unreachable",
              endpoint,
              compactRevision: response.compactRevision,
            },
          },
        ),
      );
      return;
    }
    if (response.created) {
      handlers.onCreated(response.header?.revision ?? 0n);
      return;
    }
    if (response.events.length > 0) handlers.onEvents(response.events);
  });
  call.on("error", (err: ServiceError) => {
    const error = etcdError(err, "watch", endpoint);
    if (etcdFailure(error) === "auth-token") client.dropToken();
    else client.rotate(endpoint);
    end(error);
  });
  call.on("end", () => {
    client.rotate(endpoint);
    end(
      new IpamdError("UNAVAILABLE", `watch: etcd ${endpoint} closed the stream`, {
        details: { etcd: "unreachable", endpoint },
      }),
    );
  });
  call.write(
    create(WatchRequestSchema, {
      requestUnion: {
        case: "createRequest",
        value: {
          key: spec.key,
          ...(spec.rangeEnd === undefined ? {} : { rangeEnd: spec.rangeEnd }),
          startRevision: spec.startRevision,
          progressNotify: true,
          filters: spec.noDelete === true ? [WatchCreateRequest_FilterType.NODELETE] : [],
        },
      },
    }),
  );
  return {
    endpoint,
    cancel: () => end(new IpamdError("SHUTTING_DOWN", "watch canceled", { details: { endpoint } })),
  };
}
