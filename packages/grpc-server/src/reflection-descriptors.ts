import { create, type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/**
 * A serialized `google.protobuf.FileDescriptorSet` holding the files that declare `services`
 * and all their imports, dependencies first. Feeds server reflection without shipping or
 * parsing `.proto` files at run time.
 */
export function fileDescriptorSet(services: readonly DescService[]): Uint8Array {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const service of services) visit(service.file);
  return toBinary(
    FileDescriptorSetSchema,
    create(FileDescriptorSetSchema, { file: ordered.map((file) => file.proto) }),
  );
}
