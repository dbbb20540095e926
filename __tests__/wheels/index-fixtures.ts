// Simple-API pages shaped like the real ones (trimmed to a few files): PyPI's PEP 691 JSON and
// PEP 503 HTML for `six`, download.pytorch.org's HTML for `torch` (root-relative hrefs, `+` as
// %2B), a devpi-style page, and the machine mirror's layout (/opt/pypi/simple/<name>/index.html
// linking to ../../files/<file>#sha256=…).

export const SIX_WHEEL_SHA = '8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254'
export const SIX_SDIST_SHA = '1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926'
export const SIX_OLD_SHA = 'ce21da96aaeff9c5c0bd1bc0a0a2b9a8cbb9ee8d1bd6cfd4d48cbc3c3bba5b2d'

/** https://pypi.org/simple/six/ with `Accept: application/vnd.pypi.simple.v1+json`. */
export const PYPI_SIX_JSON = JSON.stringify({
  'alternate-locations': [],
  files: [
    {
      'core-metadata': false,
      'data-dist-info-metadata': false,
      filename: 'six-0.9.0.tar.gz',
      hashes: { sha256: SIX_OLD_SHA },
      'requires-python': null,
      size: 12003,
      'upload-time': '2010-01-03T04:06:49.085154Z',
      url: 'https://files.pythonhosted.org/packages/1c/4a/bc70a5a6b68e1a5e0a2b1d2b4b3b1f2b1b8f8a1e2e3c1f8a8c9d0e1f2a3b4c5d/six-0.9.0.tar.gz',
      yanked: 'Broken packaging'
    },
    {
      'core-metadata': { sha256: '6a1a9bc9fd0ab3ad3c0e6a8f8c0b6a6c5c8d1f6e3b1a2f4b5c6d7e8f9a0b1c2d' },
      'data-dist-info-metadata': {
        sha256: '6a1a9bc9fd0ab3ad3c0e6a8f8c0b6a6c5c8d1f6e3b1a2f4b5c6d7e8f9a0b1c2d'
      },
      filename: 'six-1.16.0-py2.py3-none-any.whl',
      hashes: { sha256: SIX_WHEEL_SHA.toUpperCase() },
      'requires-python': '>=2.7, !=3.0.*, !=3.1.*, !=3.2.*',
      size: 11053,
      'upload-time': '2021-05-05T14:18:17.237553Z',
      url: 'https://files.pythonhosted.org/packages/d9/5a/e7c31adbe875f2abbb91bd84cf2dc52d792b5a01506781dbcf25c91daf11/six-1.16.0-py2.py3-none-any.whl',
      yanked: false
    },
    {
      'core-metadata': false,
      'data-dist-info-metadata': false,
      filename: 'six-1.16.0.tar.gz',
      hashes: { sha256: SIX_SDIST_SHA },
      'requires-python': '>=2.7, !=3.0.*, !=3.1.*, !=3.2.*',
      size: 34041,
      'upload-time': '2021-05-05T14:18:18.379028Z',
      url: 'https://files.pythonhosted.org/packages/71/39/171f1c67cd00715f190ba0b100d606d440a28c93c7714febeca8b79af85e/six-1.16.0.tar.gz',
      yanked: false
    }
  ],
  meta: { '_last-serial': 24896153, 'api-version': '1.1' },
  name: 'six',
  'project-status': { status: 'active' },
  versions: ['0.9.0', '1.16.0']
})

/** https://pypi.org/simple/six/ as text/html. */
export const PYPI_SIX_HTML = `<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <meta name="pypi:project-status" content="active">
    <title>Links for six</title>
  </head>
  <body>
    <h1>Links for six</h1>
    <a href="https://files.pythonhosted.org/packages/1c/4a/bc70a5a6b68e1a5e0a2b1d2b4b3b1f2b1b8f8a1e2e3c1f8a8c9d0e1f2a3b4c5d/six-0.9.0.tar.gz#sha256=${SIX_OLD_SHA}" data-yanked="Broken packaging">six-0.9.0.tar.gz</a><br />
    <a href="https://files.pythonhosted.org/packages/d9/5a/e7c31adbe875f2abbb91bd84cf2dc52d792b5a01506781dbcf25c91daf11/six-1.16.0-py2.py3-none-any.whl#sha256=${SIX_WHEEL_SHA}" data-requires-python="&gt;=2.7, !=3.0.*, !=3.1.*, !=3.2.*" data-dist-info-metadata="sha256=6a1a9bc9fd0ab3ad3c0e6a8f8c0b6a6c5c8d1f6e3b1a2f4b5c6d7e8f9a0b1c2d" data-core-metadata="sha256=6a1a9bc9fd0ab3ad3c0e6a8f8c0b6a6c5c8d1f6e3b1a2f4b5c6d7e8f9a0b1c2d">six-1.16.0-py2.py3-none-any.whl</a><br />
    <a href="https://files.pythonhosted.org/packages/71/39/171f1c67cd00715f190ba0b100d606d440a28c93c7714febeca8b79af85e/six-1.16.0.tar.gz#sha256=${SIX_SDIST_SHA}" data-requires-python="&gt;=2.7, !=3.0.*, !=3.1.*, !=3.2.*" >six-1.16.0.tar.gz</a><br />
    </body>
</html>
<!--SERIAL 24896153-->
`

export const TORCH_CPU_SHA = '0fd2b6a4c5e8ee77f6a4e4c9d0bd1ee4a6e55f1d2f79d0ec1fd1dc0bd9b4a3e1'
export const TORCH_CUDA_SHA = '3b4e1b7c0e43c2e0f7d0dc3d3f0f0a1c2e4b9ad8e6d5c4b3a2f1e0d9c8b7a6f5'

/** https://download.pytorch.org/whl/cu126/torch/ (hrefs relative to the host root). */
export const PYTORCH_TORCH_HTML = `<!DOCTYPE html>
<html>
  <body>
    <h1>Links for torch</h1>
    <a href="/whl/cu126/torch-2.7.0%2Bcu126-cp311-cp311-manylinux_2_28_x86_64.whl#sha256=${TORCH_CUDA_SHA}" data-dist-info-metadata="sha256=${TORCH_CPU_SHA}" data-core-metadata="sha256=${TORCH_CPU_SHA}">torch-2.7.0+cu126-cp311-cp311-manylinux_2_28_x86_64.whl</a><br/>
    <a href="/whl/cu126/torch-2.7.0%2Bcu126-cp311-cp311-win_amd64.whl#sha256=${TORCH_CPU_SHA}">torch-2.7.0+cu126-cp311-cp311-win_amd64.whl</a><br/>
  </body>
</html>
`

/** A page as devpi / older tools write it: single quotes, unescaped `>` inside a quoted attribute, capitals. */
export const ODD_HTML = `<html><head><title>Simple index</title>
<BASE HREF="https://mirror.example/root/pypi/+f/">
</head><body>
<!-- <a href="commented-1.0.tar.gz">commented-1.0.tar.gz</a> -->
<A HREF='ab/cd/attrs-23.1.0-py3-none-any.whl#md5=0123456789ABCDEF0123456789abcdef' data-requires-python='>=3.7'>attrs-23.1.0-py3-none-any.whl</A>
<a href=attrs-22.2.0.tar.gz data-yanked>attrs-22.2.0.tar.gz</a>
<a name="no-href">not a file</a>
<a href="attrs-21.4.0-py2.py3-none-any.whl#sha256=AAAA" data-requires-python="&gt;=2.7, !=3.0.*">  attrs&#45;21.4.0&#x2d;py2.py3-none-any.whl  </a>
</body></html>`

export const ABSL_SHA = '0f17b89f2a4eaaedc4f28c622998aa690564b3012a396a4ffad0821007fe03ba'

/** /opt/pypi/simple/absl-py/index.html on the machine's mirror. */
export const MIRROR_ABSL_HTML = `<!DOCTYPE html><html><body>
<a href="../../files/absl_py-2.5.0-py3-none-any.whl#sha256=${ABSL_SHA}">absl_py-2.5.0-py3-none-any.whl</a>
</body></html>
`
