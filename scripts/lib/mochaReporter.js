// Mocha's spec output for people, plus a JSON summary for scripts/test.js: the counts go to the
// file named by TASKSCOPE_TEST_RESULTS when the run ends.
'use strict';
const fs = require('fs');
const path = require('path');
const Mocha = require('mocha');

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const file = process.env.TASKSCOPE_TEST_RESULTS;
    const failures = [];
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (test, err) => {
      failures.push({ title: test.fullTitle(), error: (err && (err.stack || err.message)) || String(err) });
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      if (!file) return;
      const { passes, failures: failed, pending, tests, duration } = this.stats;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify({ passed: passes, failed, pending, tests, durationMs: duration, failures }, null, 2) + '\n');
    });
  }
}

module.exports = SpecWithSummary;
