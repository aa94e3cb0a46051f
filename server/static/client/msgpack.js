// Built from clients/js/src by `npm run build` (tsc): do not edit; edit the TypeScript source.
// The msgpack subset the protocol uses (maps, arrays, strings, numbers, booleans, null, binary), with no
// dependency, so the built module runs in browsers and React Native as it is. Integers the server
// sends beyond 32 bits (server_time) decode as numbers; the spec: https://github.com/msgpack/msgpack/blob/master/spec.md
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
class Writer {
    constructor() {
        this.buffer = new Uint8Array(256);
        this.view = new DataView(this.buffer.buffer);
        this.length = 0;
    }
    ensure(extra) {
        if (this.length + extra <= this.buffer.length)
            return;
        const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
        grown.set(this.buffer);
        this.buffer = grown;
        this.view = new DataView(grown.buffer);
    }
    byte(value) {
        this.ensure(1);
        this.buffer[this.length++] = value;
    }
    bytes(values) {
        this.ensure(values.length);
        this.buffer.set(values, this.length);
        this.length += values.length;
    }
    uint(size, value) {
        this.ensure(size);
        if (size === 1)
            this.view.setUint8(this.length, value);
        else if (size === 2)
            this.view.setUint16(this.length, value);
        else
            this.view.setUint32(this.length, value);
        this.length += size;
    }
    float64(value) {
        this.ensure(8);
        this.view.setFloat64(this.length, value);
        this.length += 8;
    }
    result() {
        return this.buffer.slice(0, this.length);
    }
}
function header(out, size, fix, fixMax, codes) {
    if (fix !== null && size <= fixMax)
        out.byte(fix | size);
    else if (size < 0x100 && codes[0] !== 0) {
        out.byte(codes[0]);
        out.uint(1, size);
    }
    else if (size < 0x10000) {
        out.byte(codes[1]);
        out.uint(2, size);
    }
    else {
        out.byte(codes[2]);
        out.uint(4, size);
    }
}
function write(out, value) {
    if (value === null || value === undefined)
        out.byte(0xc0);
    else if (value === false)
        out.byte(0xc2);
    else if (value === true)
        out.byte(0xc3);
    else if (typeof value === "number")
        writeNumber(out, value);
    else if (typeof value === "string") {
        const bytes = textEncoder.encode(value);
        header(out, bytes.length, 0xa0, 31, [0xd9, 0xda, 0xdb]);
        out.bytes(bytes);
    }
    else if (value instanceof Uint8Array) {
        header(out, value.length, null, -1, [0xc4, 0xc5, 0xc6]);
        out.bytes(value);
    }
    else if (Array.isArray(value)) {
        header(out, value.length, 0x90, 15, [0, 0xdc, 0xdd]);
        for (const item of value)
            write(out, item);
    }
    else if (typeof value === "object") {
        const entries = Object.entries(value).filter(([, item]) => item !== undefined);
        header(out, entries.length, 0x80, 15, [0, 0xde, 0xdf]);
        for (const [key, item] of entries) {
            write(out, key);
            write(out, item);
        }
    }
    else
        throw new TypeError(`msgpack cannot encode a ${typeof value}`);
}
function writeNumber(out, value) {
    if (!Number.isInteger(value) || Math.abs(value) > 0xffffffff) {
        out.byte(0xcb);
        out.float64(value);
    }
    else if (value >= 0) {
        if (value < 0x80)
            out.byte(value);
        else if (value < 0x100)
            (out.byte(0xcc), out.uint(1, value));
        else if (value < 0x10000)
            (out.byte(0xcd), out.uint(2, value));
        else
            (out.byte(0xce), out.uint(4, value));
    }
    else if (value >= -32)
        out.byte(value & 0xff);
    else if (value >= -0x80)
        (out.byte(0xd0), out.uint(1, value & 0xff));
    else if (value >= -0x8000)
        (out.byte(0xd1), out.uint(2, value & 0xffff));
    else if (value >= -0x80000000)
        (out.byte(0xd2), out.uint(4, value >>> 0));
    else
        (out.byte(0xcb), out.float64(value));
}
/** Encode a value (maps, arrays, strings, numbers, booleans, null, Uint8Array) as msgpack. */
export function encodeMsgpack(value) {
    const out = new Writer();
    write(out, value);
    return out.result();
}
class Reader {
    constructor(bytes) {
        this.bytes = bytes;
        this.offset = 0;
        this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    need(size) {
        if (this.offset + size > this.bytes.length)
            throw new RangeError("msgpack data ends too early");
    }
    uint(size) {
        this.need(size);
        const at = this.offset;
        this.offset += size;
        if (size === 1)
            return this.view.getUint8(at);
        if (size === 2)
            return this.view.getUint16(at);
        if (size === 4)
            return this.view.getUint32(at);
        return this.view.getUint32(at) * 2 ** 32 + this.view.getUint32(at + 4);
    }
    int(size) {
        this.need(size);
        const at = this.offset;
        this.offset += size;
        if (size === 1)
            return this.view.getInt8(at);
        if (size === 2)
            return this.view.getInt16(at);
        if (size === 4)
            return this.view.getInt32(at);
        return this.view.getInt32(at) * 2 ** 32 + this.view.getUint32(at + 4);
    }
    float(size) {
        this.need(size);
        const at = this.offset;
        this.offset += size;
        return size === 4 ? this.view.getFloat32(at) : this.view.getFloat64(at);
    }
    raw(size) {
        this.need(size);
        const slice = this.bytes.subarray(this.offset, this.offset + size);
        this.offset += size;
        return slice;
    }
    value() {
        const code = this.uint(1);
        if (code < 0x80)
            return code;
        if (code < 0x90)
            return this.map(code & 0x0f);
        if (code < 0xa0)
            return this.array(code & 0x0f);
        if (code < 0xc0)
            return textDecoder.decode(this.raw(code & 0x1f));
        if (code >= 0xe0)
            return code - 0x100;
        switch (code) {
            case 0xc0: return null;
            case 0xc2: return false;
            case 0xc3: return true;
            case 0xc4: return this.raw(this.uint(1)).slice();
            case 0xc5: return this.raw(this.uint(2)).slice();
            case 0xc6: return this.raw(this.uint(4)).slice();
            case 0xca: return this.float(4);
            case 0xcb: return this.float(8);
            case 0xcc: return this.uint(1);
            case 0xcd: return this.uint(2);
            case 0xce: return this.uint(4);
            case 0xcf: return this.uint(8);
            case 0xd0: return this.int(1);
            case 0xd1: return this.int(2);
            case 0xd2: return this.int(4);
            case 0xd3: return this.int(8);
            case 0xd9: return textDecoder.decode(this.raw(this.uint(1)));
            case 0xda: return textDecoder.decode(this.raw(this.uint(2)));
            case 0xdb: return textDecoder.decode(this.raw(this.uint(4)));
            case 0xdc: return this.array(this.uint(2));
            case 0xdd: return this.array(this.uint(4));
            case 0xde: return this.map(this.uint(2));
            case 0xdf: return this.map(this.uint(4));
            default: throw new RangeError(`msgpack type 0x${code.toString(16)} is not used by this protocol`);
        }
    }
    array(size) {
        const items = [];
        for (let i = 0; i < size; i += 1)
            items.push(this.value());
        return items;
    }
    map(size) {
        const result = {};
        for (let i = 0; i < size; i += 1) {
            const key = this.value();
            if (typeof key !== "string")
                throw new TypeError("msgpack map keys must be strings here");
            result[key] = this.value();
        }
        return result;
    }
}
/** Decode one msgpack value.
 * @throws RangeError or TypeError for data that is not one whole msgpack value of the protocol's kinds. */
export function decodeMsgpack(bytes) {
    const reader = new Reader(bytes);
    const value = reader.value();
    if (reader.offset !== bytes.length)
        throw new RangeError("trailing bytes after a msgpack value");
    return value;
}
