"""Server reflection under both names clients ask for: grpc.reflection.v1 and v1alpha.

grpcio-reflection (1.85) serves only v1alpha, while newer clients (grpcurl, Postman, grpc-js and
grpc-java tools) ask for v1 first.  The two protocols are the same messages with the same field
numbers under another package name, so one servicer answers both: the v1 method decodes and
encodes with v1alpha's message classes, which read and write exactly the same bytes.
"""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME
V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
V1_FILE_NAME = "grpc/reflection/v1/reflection.proto"


def add_reflection(server, service_names: tuple[str, ...]) -> None:
    """Serve reflection v1 and v1alpha for `service_names` (and for reflection itself)."""
    _register_v1_descriptor()
    servicer = reflection.aio.ReflectionServicer((*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    info = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, {"ServerReflectionInfo": info}),)
    )


def _register_v1_descriptor() -> None:
    """Put grpc/reflection/v1/reflection.proto in the default pool, so that a client describing the
    v1 service it is talking to gets its descriptor.  It is v1alpha's file with the package renamed,
    which is what the upstream v1 file is."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(V1_FILE_NAME)
        return  # another server in this process registered it already
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    old_prefix, new_prefix = f".{file.package}.", f".{V1_PACKAGE}."
    file.name, file.package = V1_FILE_NAME, V1_PACKAGE
    file.ClearField("options")  # v1alpha's language options name v1alpha's packages
    for message in file.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(old_prefix, new_prefix)
    for method in file.service[0].method:
        method.input_type = method.input_type.replace(old_prefix, new_prefix)
        method.output_type = method.output_type.replace(old_prefix, new_prefix)
    pool.AddSerializedFile(file.SerializeToString())
