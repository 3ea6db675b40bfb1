// Digit Lab's web page of a model: draw a digit, and TensorFlow.js reads it in this page.
// The preprocessing is mnist_core/preprocess.py's drawing path, step for step (tested against
// it in tests/test_web_export.py): keep it in step with that file.
"use strict";
(() => {
  const SIDE = 28; // the network reads 28 × 28 images
  const DIGIT_BOX = 20; // the digit's longer side, as in MNIST
  const MNIST_CENTRE = 14; // where MNIST puts the centre of mass
  const MIN_CONTRAST = 0.1;
  const INK_THRESHOLD = Math.fround(0.2); // NumPy compares float32 ink with it in float32
  const MIN_DIGIT_PX = 8;
  const MIN_DRAWING_FRACTION = 0.1;
  const LUMA = [0.299, 0.587, 0.114].map(Math.fround);
  const PEN = 20; // px of the 280 × 280 canvas, as Draw's pen by default
  const f32 = Math.fround; // NumPy computes these steps in float32: so does this file

  const { network, strings } = JSON.parse(document.getElementById("digit-lab-data").textContent);
  const root = document.documentElement;
  const $ = (id) => document.getElementById(id);

  class EmptyImage extends Error {}
  class DigitTooSmall extends Error {
    constructor(size, least) {
      super(format(strings.too_small, { size, least }));
    }
  }

  function format(text, fields) {
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in fields ? fields[name] : whole));
  }

  // Python's round(): halves go to the even neighbour.
  function roundHalfEven(x) {
    const floor = Math.floor(x);
    const diff = x - floor;
    if (diff !== 0.5) return Math.round(x);
    return floor % 2 === 0 ? floor : floor + 1;
  }

  // --- the preprocessing (preprocess.py, drawing=True) ------------------------------------

  // Luminance in [0, 1], transparency composited as _grey and _composite do.
  function grey(rgba, width, height) {
    const n = width * height;
    const luminance = new Float32Array(n);
    const alpha = new Float32Array(n);
    let opaqueSum = 0;
    let opaqueCount = 0;
    for (let i = 0; i < n; i++) {
      const [r, g, b] = [0, 1, 2].map((c) => f32(rgba[4 * i + c] / 255));
      luminance[i] = f32(f32(LUMA[0] * r) + f32(LUMA[1] * g)) + f32(LUMA[2] * b);
      alpha[i] = rgba[4 * i + 3] / 255;
      if (alpha[i] > 0.5) {
        opaqueSum += luminance[i];
        opaqueCount += 1;
      }
    }
    const background = opaqueCount === 0 || opaqueSum / opaqueCount >= 0.5 ? 0 : 1;
    for (let i = 0; i < n; i++) {
      luminance[i] = f32(luminance[i] * alpha[i]) + f32(background * f32(1 - alpha[i]));
    }
    return luminance;
  }

  // The ink of a drawing on its black background: stretched to a peak of 1, faint pixels cut.
  function drawingInk(luminance) {
    let peak = 0;
    for (const v of luminance) peak = Math.max(peak, v);
    if (peak < MIN_CONTRAST) throw new EmptyImage();
    return luminance.map((v) => {
      const ink = f32(v / peak);
      return ink < INK_THRESHOLD ? 0 : ink;
    });
  }

  function cropToInk(ink, width, height) {
    let [top, bottom, left, right] = [height, -1, width, -1];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (ink[y * width + x] !== 0) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
          left = Math.min(left, x);
          right = Math.max(right, x);
        }
      }
    }
    const [w, h] = [right - left + 1, bottom - top + 1];
    const cropped = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      cropped.set(ink.subarray((top + y) * width + left, (top + y) * width + left + w), y * w);
    }
    return { pixels: cropped, width: w, height: h };
  }

  // Pillow's Lanczos filter and its weights (libImaging/Resample.c, precompute_coeffs).
  function sinc(x) {
    if (x === 0) return 1;
    x *= Math.PI;
    return Math.sin(x) / x;
  }

  function lanczos(x) {
    return -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0;
  }

  function coefficients(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = 3 * filterScale;
    const kernelSize = Math.ceil(support) * 2 + 1;
    const bounds = new Int32Array(outSize * 2);
    const weights = new Float64Array(outSize * kernelSize);
    for (let out = 0; out < outSize; out++) {
      const centre = (out + 0.5) * scale;
      const min = Math.max(Math.trunc(centre - support + 0.5), 0);
      const count = Math.min(Math.trunc(centre + support + 0.5), inSize) - min;
      let total = 0;
      for (let i = 0; i < count; i++) {
        const w = lanczos((i + min - centre + 0.5) / filterScale);
        weights[out * kernelSize + i] = w;
        total += w;
      }
      for (let i = 0; i < count && total !== 0; i++) weights[out * kernelSize + i] /= total;
      bounds[2 * out] = min;
      bounds[2 * out + 1] = count;
    }
    return { bounds, weights, kernelSize };
  }

  // Image.resize(..., LANCZOS) of a float ("F") image: rows first, then columns, in float32.
  function resize(image, outWidth, outHeight) {
    let { pixels, width, height } = image;
    const rows = coefficients(height, outHeight);
    let firstRow = 0;
    if (outWidth !== width) {
      const cols = coefficients(width, outWidth);
      firstRow = rows.bounds[0];
      const lastRow = rows.bounds[2 * outHeight - 2] + rows.bounds[2 * outHeight - 1];
      const across = new Float32Array(outWidth * (lastRow - firstRow));
      for (let y = 0; y < lastRow - firstRow; y++) {
        for (let x = 0; x < outWidth; x++) {
          const [min, count] = [cols.bounds[2 * x], cols.bounds[2 * x + 1]];
          let sum = 0;
          for (let i = 0; i < count; i++) {
            sum += pixels[(y + firstRow) * width + min + i] * cols.weights[x * cols.kernelSize + i];
          }
          across[y * outWidth + x] = sum;
        }
      }
      [pixels, width] = [across, outWidth];
    }
    if (outHeight === height) return { pixels: pixels.slice(), width, height };
    const out = new Float32Array(width * outHeight);
    for (let y = 0; y < outHeight; y++) {
      const [min, count] = [rows.bounds[2 * y] - firstRow, rows.bounds[2 * y + 1]];
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let i = 0; i < count; i++) {
          sum += pixels[(min + i) * width + x] * rows.weights[y * rows.kernelSize + i];
        }
        out[y * width + x] = sum;
      }
    }
    return { pixels: out, width, height: outHeight };
  }

  // The longer side to 20 px, the aspect kept, clipped to [0, 1] and the peak back at 1.
  function scaleToBox(cropped) {
    const factor = DIGIT_BOX / Math.max(cropped.width, cropped.height);
    const width = Math.max(1, roundHalfEven(cropped.width * factor));
    const height = Math.max(1, roundHalfEven(cropped.height * factor));
    const scaled = resize(cropped, width, height);
    let peak = 0;
    for (let i = 0; i < scaled.pixels.length; i++) {
      scaled.pixels[i] = Math.min(Math.max(scaled.pixels[i], 0), 1);
      peak = Math.max(peak, scaled.pixels[i]);
    }
    for (let i = 0; i < scaled.pixels.length; i++) scaled.pixels[i] /= peak;
    return scaled;
  }

  // Pasted into 28 × 28 with the centre of mass on MNIST's centre, nothing clipped.
  function centreByMass(scaled) {
    const { pixels, width, height } = scaled;
    let [mass, rowMoment, colMoment] = [0, 0, 0];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = pixels[y * width + x];
        mass += v;
        rowMoment += v * y;
        colMoment += v * x;
      }
    }
    const offset = (centre, slack) =>
      Math.min(Math.max(Math.floor(MNIST_CENTRE - centre + 0.5), 0), slack);
    const top = offset(rowMoment / mass, SIDE - height);
    const left = offset(colMoment / mass, SIDE - width);
    const centred = new Float32Array(SIDE * SIDE);
    for (let y = 0; y < height; y++) {
      centred.set(pixels.subarray(y * width, (y + 1) * width), (top + y) * SIDE + left);
    }
    return centred;
  }

  // An RGBA drawing (white ink on black) as the 28 × 28 image the network reads.
  function preprocess(rgba, width, height) {
    const cropped = cropToInk(drawingInk(grey(rgba, width, height)), width, height);
    const least = Math.max(MIN_DIGIT_PX, roundHalfEven(MIN_DRAWING_FRACTION * Math.min(width, height)));
    const size = Math.max(cropped.width, cropped.height);
    if (size < least) throw new DigitTooSmall(size, least);
    return centreByMass(scaleToBox(cropped));
  }

  // --- the network --------------------------------------------------------------------------

  function decodeWeights(base64) {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return new Float32Array(bytes.buffer);
  }

  // The Keras network rebuilt from its layers, with its weights in place.
  function buildModel() {
    const model = tf.sequential();
    network.layers.forEach((layer, i) => {
      const config = { ...layer.config };
      if (i === 0) config.inputShape = network.inputShape;
      // Zeros: the weights come next, so a random start would only cost time.
      if (layer.shapes.length) config.kernelInitializer = "zeros";
      model.add(tf.layers[layer.kind](config));
    });
    const weights = decodeWeights(network.weights);
    let start = 0;
    network.layers.forEach((layer, i) => {
      if (!layer.shapes.length) return;
      const tensors = layer.shapes.map((shape) => {
        const size = shape.reduce((a, b) => a * b, 1);
        const tensor = tf.tensor(weights.subarray(start, start + size), shape);
        start += size;
        return tensor;
      });
      model.layers[i].setWeights(tensors);
      tf.dispose(tensors);
    });
    return model;
  }

  // Probabilities for a batch of 28 × 28 images (each 784 numbers, row by row, in [0, 1]).
  function probabilities(model, images) {
    return tf.tidy(() => {
      const batch = tf.tensor(images.flatMap((image) => Array.from(image)), [images.length, SIDE, SIDE, 1]);
      return model.predict(batch).arraySync();
    });
  }

  // --- the page -----------------------------------------------------------------------------

  const pad = $("pad");
  const pen = pad.getContext("2d", { willReadFrequently: true });
  let readings = 0;

  function clearPad() {
    pen.fillStyle = "#000000";
    pen.fillRect(0, 0, pad.width, pad.height);
  }

  function padPoint(event) {
    const box = pad.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * pad.width) / box.width,
      ((event.clientY - box.top) * pad.height) / box.height,
    ];
  }

  function makeBars() {
    const bars = $("bars");
    for (let digit = 0; digit < 10; digit++) {
      const row = document.createElement("li");
      row.innerHTML = '<span class="digit"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
      row.querySelector(".digit").textContent = String(digit);
      row.querySelector(".fill").style.width = "0";
      row.querySelector(".value").textContent = "–";
      bars.append(row);
    }
  }

  function percent(p, digits) {
    return (100 * p).toFixed(digits) + "%";
  }

  function showReading(probs) {
    const best = probs.indexOf(Math.max(...probs));
    $("prediction").textContent = String(best);
    $("confidence").textContent = percent(probs[best], 0);
    [...$("bars").children].forEach((row, digit) => {
      row.classList.toggle("best", digit === best);
      row.querySelector(".fill").style.width = percent(probs[digit], 2);
      row.querySelector(".value").textContent = percent(probs[digit], 1);
    });
  }

  function showNothing(message, problem) {
    $("prediction").textContent = "–";
    $("confidence").textContent = "–";
    [...$("bars").children].forEach((row) => {
      row.classList.remove("best");
      row.querySelector(".fill").style.width = "0";
      row.querySelector(".value").textContent = "–";
    });
    say(message, problem);
  }

  function say(message, problem = false) {
    $("status").textContent = message;
    $("status").classList.toggle("problem", problem);
  }

  function showSeen(image) {
    const seen = $("seen").getContext("2d");
    const picture = seen.createImageData(SIDE, SIDE);
    image.forEach((v, i) => {
      const level = Math.round(255 * v);
      picture.data.set([level, level, level, 255], 4 * i);
    });
    seen.putImageData(picture, 0, 0);
  }

  function read(model) {
    const { data } = pen.getImageData(0, 0, pad.width, pad.height);
    let image = new Float32Array(SIDE * SIDE);
    try {
      image = preprocess(data, pad.width, pad.height);
      showReading(probabilities(model, [image])[0]);
      say("");
    } catch (error) {
      if (error instanceof EmptyImage) showNothing(strings.waiting);
      else if (error instanceof DigitTooSmall) showNothing(error.message, true);
      else throw error;
    }
    showSeen(image);
    readings += 1;
    root.dataset.readings = String(readings); // a signal for tests: a stroke was read
  }

  function listen(model) {
    let last = null;
    pad.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      pad.setPointerCapture(event.pointerId);
      last = padPoint(event);
      pen.beginPath();
      pen.arc(last[0], last[1], PEN / 2, 0, 2 * Math.PI);
      pen.fillStyle = "#ffffff";
      pen.fill();
    });
    pad.addEventListener("pointermove", (event) => {
      if (last === null) return;
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const each of events.length ? events : [event]) {
        const point = padPoint(each);
        pen.beginPath();
        pen.moveTo(last[0], last[1]);
        pen.lineTo(point[0], point[1]);
        pen.stroke();
        last = point;
      }
    });
    const lift = () => {
      if (last === null) return;
      last = null;
      read(model);
    };
    pad.addEventListener("pointerup", lift);
    pad.addEventListener("pointercancel", lift);
    $("clear").addEventListener("click", () => {
      clearPad();
      read(model);
    });
  }

  async function start() {
    clearPad();
    Object.assign(pen, { strokeStyle: "#ffffff", lineWidth: PEN, lineCap: "round", lineJoin: "round" });
    makeBars();
    await tf.setBackend("cpu");
    const model = buildModel();
    listen(model);
    say(strings.waiting);
    root.dataset.state = "ready";
    return model;
  }

  const ready = start().catch((error) => {
    root.dataset.state = "failed";
    say(format(strings.failed, { error: error.message }), true);
    throw error;
  });

  // For tests and the curious: the network and the preprocessing, from the console.
  window.digitLab = {
    ready,
    predict: async (images) => probabilities(await ready, images),
    preprocess: (rgba, width, height) => Array.from(preprocess(rgba, width, height)),
  };
})();
