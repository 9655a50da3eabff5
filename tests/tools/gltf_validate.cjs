// Validate one glTF file with the gltf-validator package; print its JSON report on stdout.
// usage: node gltf_validate.cjs <node_modules folder> <file.glb|file.gltf>
const path = require("path");
const fs = require("fs");
const validator = require(path.resolve(process.argv[2], "gltf-validator"));
const file = path.resolve(process.argv[3]);
validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {
    uri: path.basename(file),
    maxIssues: 0,
    externalResourceFunction: (uri) => new Promise((resolve, reject) => {
        fs.readFile(path.resolve(path.dirname(file), decodeURIComponent(uri)),
                    (err, data) => (err ? reject(err.toString()) : resolve(new Uint8Array(data))));
    }),
}).then((report) => {
    process.stdout.write(JSON.stringify(report));
}, (error) => {
    process.stderr.write(String(error));
    process.exit(2);
});
