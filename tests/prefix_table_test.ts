import assert from "node:assert/strict";
import { kadPrefixTable } from "../scripts/bundle.ts";
import {
  packPrefixTable,
  prefixTableExpression,
  readPrefixTable,
  replacePrefixTable,
} from "../scripts/prefix_table.ts";

function evaluate(expression: string): unknown {
  return (0, eval)(expression);
}

Deno.test("prefix table: kad-dht's 65,536 entries come back from the packed expression, entry for entry", async () => {
  const entries = await kadPrefixTable();
  assert.equal(entries.length, 65_536);
  const unpacked = evaluate(prefixTableExpression(packPrefixTable(entries)));
  assert.ok(unpacked instanceof Uint32Array);
  assert.deepEqual(Array.from(unpacked), entries);
});

Deno.test("prefix table: a big-endian machine decodes the same entries, through its fallback", () => {
  const entries = [77591, 94053, 0, 753014, 2 ** 32 - 1];
  // The expression tests the machine's byte order with a Uint16Array; this one says big-endian.
  class BigEndianProbe {
    buffer = new Uint8Array([0, 1]).buffer;
  }
  let reads = 0;
  class CountingDataView extends DataView<ArrayBuffer> {
    override getUint32(offset: number, littleEndian?: boolean): number {
      reads++;
      return super.getUint32(offset, littleEndian);
    }
  }
  const decode = new Function(
    "Uint16Array",
    "DataView",
    `return ${prefixTableExpression(packPrefixTable(entries))}`,
  );
  const unpacked = decode(BigEndianProbe, CountingDataView);
  assert.ok(unpacked instanceof Uint32Array);
  assert.deepEqual(Array.from(unpacked), entries);
  assert.equal(reads, entries.length, "each entry read through a DataView");
});

Deno.test("prefix table: a minified literal (exponent forms included) is replaced; other arrays are left alone", () => {
  const entries = [14000, 77591, 0, 753014, 200000, 9];
  const minified = "[14e3,77591,0,753014,2e5,9]";
  const other = "[14e3,77591,0,753014,2e5,8]";
  const code = `var a=${minified};var b=${other};var c=${minified}.length;`;
  const replaced = replacePrefixTable(code, entries);
  assert.equal(replaced.count, 2);
  assert.ok(replaced.code.includes(`var b=${other};`), "an array with another value stays");
  assert.ok(!replaced.code.includes(minified));
  const [a, c] = evaluate(`(()=>{${replaced.code}return [a,c]})()`) as [Uint32Array, number];
  assert.deepEqual(Array.from(a), entries);
  assert.equal(c, entries.length);
});

Deno.test("prefix table: code without the table is returned as it was", () => {
  const code = "var a=[1,2,3];";
  assert.deepEqual(replacePrefixTable(code, [77591, 94053, 60620, 45849, 1]), { code, count: 0 });
});

Deno.test("prefix table: bad input is one clear error naming it", () => {
  assert.throws(() => packPrefixTable([1, 2 ** 32]), {
    name: "RangeError",
    message: "Cannot pack the prefix table: entry 1 is 4294967296",
  });
  assert.throws(() => packPrefixTable([-1]), /entry 0 is -1/);
  assert.throws(() => readPrefixTable("export default {};"), {
    message: "Cannot read the prefix table: no array literal",
  });
  assert.throws(() => readPrefixTable("export default [1, x, 3];"), {
    message: "Cannot read the prefix table: not a list of integers",
  });
});
