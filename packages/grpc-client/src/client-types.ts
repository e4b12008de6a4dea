import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenServiceMethods } from "@bufbuild/protobuf/codegenv2";

/** Options of one call. */
export interface CallOptions {
  /** Overrides the client's `deadlineMs` for this call. */
  readonly deadlineMs?: number;
  /** Abort the call (it fails with `CANCELLED`). */
  readonly signal?: AbortSignal;
  /** Extra request metadata (ASCII values). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A typed client for a generated service: one async method per RPC, plus `close()`. */
export type ServiceClient<M extends GenServiceMethods> = {
  [K in keyof M]: M[K] extends {
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  }
    ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
    : never;
} & {
  /** Close every connection; later calls fail with UNAVAILABLE. */
  close(): void;
};
