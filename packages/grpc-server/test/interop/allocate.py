"""Interop client: Debian's python3-grpcio calls ipam.v1.Ipam/Allocate on our server.

Usage: allocate.py UNIX_SOCKET_PATH DESCRIPTOR_SET_FILE
Messages are built from the FileDescriptorSet the test writes (no generated Python code), so
this exercises only the wire protocol and the protobuf encoding. Prints one JSON object.
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory


def message_class(pool, name):
    descriptor = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def main():
    socket_path, descriptor_file = sys.argv[1], sys.argv[2]
    with open(descriptor_file, "rb") as handle:
        file_set = descriptor_pb2.FileDescriptorSet.FromString(handle.read())
    pool = descriptor_pool.DescriptorPool()
    for file_proto in file_set.file:
        pool.Add(file_proto)
    request_class = message_class(pool, "ipam.v1.AllocateRequest")
    response_class = message_class(pool, "ipam.v1.AllocateResponse")

    with grpc.insecure_channel("unix:" + socket_path) as channel:
        allocate = channel.unary_unary(
            "/ipam.v1.Ipam/Allocate",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        request = request_class(
            network="pods", container_id="py-1", ifname="eth0", families=3,
            pod_namespace="default", pod_name="python-pod",
        )
        response = allocate(request, timeout=5)
        result = {"ok": json_format.MessageToDict(response, preserving_proto_field_name=True)}
        try:
            allocate(request_class(container_id="x", ifname="eth0"), timeout=5)
            result["error"] = None
        except grpc.RpcError as error:
            trailers = dict(error.trailing_metadata() or ())
            result["error"] = {
                "status": error.code().name,
                "details": error.details(),
                "ipam_error_code": trailers.get("ipam-error-code"),
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
