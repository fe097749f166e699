// Loaded into tslab (`node --require`) by e2b-local's code interpreter.
//
// tslab prints the value of an execution's last expression with
// console.log, so clients would see it as stdout. E2B's JavaScript kernel
// makes it the execution's result (its `text`). This turns tslab's print of
// that value into a display message marked as the main result, which the
// agent reports as the execution's result.
"use strict";

const path = require("path");
const util = require("util");

const dist = path.join(path.dirname(require.resolve("tslab/package.json")), "dist");
const executor = require(path.join(dist, "executor.js"));
const jupyter = require(path.join(dist, "jupyter.js"));

const createExecutor = executor.createExecutor;
executor.createExecutor = function (rootDir, convs, console) {
  return createExecutor(rootDir, convs, {
    error: console.error,
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
