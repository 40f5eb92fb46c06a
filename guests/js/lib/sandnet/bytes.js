/**
 * Byte and text conversions shared by the protocol modules.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `string | Uint8Array | ArrayBuffer | undefined` as the bytes to send. */
export function bytes(body) {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return encoder.encode(body);
  // Not `instanceof`: arrays made by the generated bindings come from
  // another realm.
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (Object.prototype.toString.call(body) === '[object ArrayBuffer]') return new Uint8Array(body);
  throw new TypeError('body must be a string, Uint8Array or ArrayBuffer');
}

/** Bytes (a Uint8Array from the host) decoded as UTF-8. */
export function text(data) {
  return decoder.decode(data);
}
