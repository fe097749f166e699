// Loaded into tslab (`node --require`) by e2b-local's code interpreter.
//
// tslab prints the value of an execution's last expression with
// console.log, so clients would see it as stdout. E2B's JavaScript kernel
// makes it the execution's result (its `text`). This turns tslab's print of
// that value into a display message marked as the main result, which the
// agent reports as the execution's result.
//
// tslab also prints what an execution throws with console.error (one
// argument; its compiler diagnostics take several) and replies "error"
// without a name or message. Like E2B's JavaScript kernel, what was thrown
// becomes the execution's error instead: a display message marked as an
// error, with the name, message and stack.
"use strict";

const path = require("path");
const util = require("util");

const dist = path.join(path.dirname(require.resolve("tslab/package.json")), "dist");
const executor = require(path.join(dist, "executor.js"));
const jupyter = require(path.join(dist, "jupyter.js"));

const createExecutor = executor.createExecutor;
executor.createExecutor = function (rootDir, convs, console) {
  return createExecutor(rootDir, convs, {
    error: (...args) => {
      if (args.length !== 1 || typeof jupyter.lastWriteDisplayData !== "function") {
        console.error(...args);
        return;
      }
      jupyter.lastWriteDisplayData(
        { data: {}, metadata: { e2b: { error: describeThrown(args[0]) } }, transient: {} },
        false,
      );
    },
    log: (value) => {
      if (typeof jupyter.lastWriteDisplayData !== "function") {
        console.log(value);
        return;
      }
      jupyter.lastWriteDisplayData(
        {
          data: { "text/plain": util.inspect(value) },
          metadata: { e2b: { main_result: true } },
          transient: {},
        },
        false,
      );
    },
  });
};

// The Jupyter error fields of a thrown value.
function describeThrown(thrown) {
  if (thrown instanceof Error || (thrown && typeof thrown.message === "string")) {
    const name = typeof thrown.name === "string" && thrown.name ? thrown.name : "Error";
    const stack = typeof thrown.stack === "string" ? thrown.stack : `${name}: ${thrown.message}`;
    return { ename: name, evalue: thrown.message, traceback: stack.split("\n") };
  }
  const text = typeof thrown === "string" ? thrown : util.inspect(thrown);
  return { ename: "Error", evalue: text, traceback: [text] };
}
