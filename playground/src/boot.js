// A classic script, run before app.js: app.js is an ES module whose imports
// (the policy's wasm-bindgen build, the JSON Patch helpers, the vendored YAML
// parser) exist only in the built folder. When any of them cannot load (this
// page served from playground/src as it is, or opened as a file://, where
// browsers load no modules), the module graph fails without running a line
// of app.js, and the page would say LOADING for ever. Say what is wrong and
// how to build and serve it instead.
(function () {
  const BUILD = 'make playground';
  const SERVE = 'python3 -m http.server -d target/playground 8000';

  function explain() {
    if (location.protocol === 'file:') {
      return (
        'This page was opened as a file, and browsers do not load its modules from file://. ' +
        `Build it with \`${BUILD}\`, serve the folder with any static server, e.g. \`${SERVE}\`, ` +
        'and open http://localhost:8000/.'
      );
    }
    return (
      'The playground is not built here: the policy module (imagegate_policy.js and its .wasm) ' +
      'and the YAML parser did not load, as when playground/src is served as it is. ' +
      `Build it with \`${BUILD}\` (which needs \`make js\`'s toolchain), then serve target/playground, ` +
      `e.g. \`${SERVE}\`, and open http://localhost:8000/.`
    );
  }

  function show() {
    const status = document.getElementById('status');
    status.className = 'status error';
    document.getElementById('verdict').textContent = 'NOT BUILT';
    document.getElementById('message').textContent = explain();
    document.body.dataset.ready = 'false';
  }

  document.getElementById('app').addEventListener('error', () => {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', show);
    } else {
      show();
    }
  });
})();
