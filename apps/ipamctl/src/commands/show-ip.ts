import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { locateAddress, locationText, locationView } from "../locate-address.js";

/**
 * `show --ip ADDR`: the subnet and block of an address, the node its block is leased to, and
 * the container (and pod) holding it, read from that node's agent when `--node`/`--unix-socket`
 * name it. Exits 6 (not found) for an address in no subnet.
 */
export async function showIp(context: CommandContext, text: string): Promise<void> {
  const where = await locateAddress(context, text);
  context.output().result("Address", locationView(where), () => locationText(where));
  if (where.state === "outside") context.setExitCode(EXIT.NOT_FOUND);
}
