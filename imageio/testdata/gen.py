#!/usr/bin/python3
"""Regenerate imageio's test inputs and Pillow goldens.

Needs Debian's python3-pil, python3-numpy and python3-skimage (for the
photos): apt-get install -y python3-pil python3-numpy python3-skimage
Run from anywhere: /usr/bin/python3 imageio/testdata/gen.py

Go tests only read the files written here; they never run Python.

Layout (all under testdata/):
  in/       inputs: real photos from skimage.data (cropped/downscaled so
            the repository stays small) and small derived files in every
            format and colour mode imageio decodes.
  golden/   outputs of Pillow, lossless PNG (uint8 RGB):
            decode_*.png    Image.open(f).convert("RGB")
            resize_*.png    im.resize((w, h), filter) [after an optional crop]
            pipe_*.png      pipeline outputs: the float32 tensor t converted
                            back to pixel units v = (t*std + mean)*255, which
                            is checked here to be integral, so the PNG holds
                            the tensor exactly.
  golden.json  index: one record per golden; pipelines also keep the first
            8 float32 values of each channel of the real tensor.

timm's eval transform is reproduced with Pillow and the arithmetic of
timm.data.transforms_factory.transforms_imagenet_eval (timm itself is not
packaged for Debian): scale = floor(input/crop_pct); short side -> scale,
long side int(scale*long/short); top = int(round((h-th)/2.0)); v/255 in
float32; (x-mean)/std in float32. When torchvision is importable (Debian's
python3-torchvision), every timm case is also run through torchvision's
Resize/CenterCrop/ToTensor/Normalize, the very transforms timm composes,
and must agree bit for bit. Hugging Face's
ViTImageProcessor is reproduced the same way (transformers resizes through
PIL.Image.resize; rescale in float64 then float32; normalise in float32).
"""
import json, math, os, shutil, sys
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SK = "/usr/lib/python3/dist-packages/skimage/data/"
IN = os.path.join(HERE, "in")
GOLD = os.path.join(HERE, "golden")
FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
           "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING}


def make_inputs():
    os.makedirs(IN, exist_ok=True)
    Image.open(SK + "chelsea.png").crop((30, 10, 431, 290)).save(os.path.join(IN, "chelsea.png"))  # 401x280 RGB
    shutil.copy(SK + "rocket.jpg", os.path.join(IN, "rocket.jpg"))  # 640x427 JPEG 4:4:4, camera file
    Image.open(SK + "astronaut.png").crop((100, 20, 400, 260)).save(os.path.join(IN, "astronaut.png"))
    Image.open(SK + "coffee.png").resize((300, 200), Image.LANCZOS).save(os.path.join(IN, "coffee.png"))
    Image.open(SK + "camera.png").crop((150, 40, 406, 240)).save(os.path.join(IN, "camera.png"))  # grey
    c = Image.open(SK + "chelsea.png").convert("RGB")
    c.save(os.path.join(IN, "chelsea420.jpg"), quality=90)  # default 4:2:0
    s = c.crop((150, 40, 271, 121))  # 121x81, odd sizes on purpose
    s.save(os.path.join(IN, "small422.jpg"), quality=92, subsampling=1)
    s.save(os.path.join(IN, "small420.jpg"), quality=85, subsampling=2)
    s.convert("L").save(os.path.join(IN, "small_grey.jpg"), quality=90)
    s.convert("CMYK").save(os.path.join(IN, "small_cmyk.jpg"), quality=95)
    s.save(os.path.join(IN, "small.bmp"))
    s.save(os.path.join(IN, "small.tif"))
    s.save(os.path.join(IN, "small_lossy.webp"), quality=80)
    s.save(os.path.join(IN, "small_lossless.webp"), lossless=True)
    a = np.asarray(s).copy()
    alpha = (np.add.outer(np.arange(81), np.arange(121)) * 2 % 256).astype(np.uint8)
    alpha[:10, :10] = 0  # fully transparent pixels keep their colour in convert("RGB")
    Image.fromarray(np.dstack([a, alpha]), "RGBA").save(os.path.join(IN, "small_rgba.png"))
    Image.fromarray(np.dstack([a[:, :, 1], alpha]), "LA").save(os.path.join(IN, "small_la.png"))
    p = s.quantize(64)
    p.info["transparency"] = 3
    p.save(os.path.join(IN, "small_pal.png"), transparency=3)
    s.quantize(200).save(os.path.join(IN, "small.gif"))
    a16 = (a.astype(np.uint16) * 257 + 77).astype(">u2")
    # 16-bit RGB PNG written by hand (Pillow cannot write it): raw IHDR/IDAT.
    write_png16(os.path.join(IN, "small16.png"), a16)


def write_png16(path, a):
    import struct, zlib
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def load(name):
    return Image.open(os.path.join(IN, name)).convert("RGB")


def save(img, name):
    a = np.asarray(img)
    if (a[:, :, 0] == a[:, :, 1]).all() and (a[:, :, 0] == a[:, :, 2]).all():
        img = img.convert("L")  # grey goldens stored as grey PNG (smaller)
    img.save(os.path.join(GOLD, name), optimize=True)
    return name


def to_tensor_timm(img, mean, std):
    x = np.asarray(img, dtype=np.uint8).astype(np.float32) / np.float32(255)
    x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    return x.transpose(2, 0, 1)


def to_tensor_hf(img, rescale, mean, std):
    x = (np.asarray(img, dtype=np.uint8).astype(np.float64) * rescale).astype(np.float32)
    x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    return x.transpose(2, 0, 1)


def timm_eval(img, size, crop_pct, interp, mean, std):
    th, tw = size
    if th == tw:
        s = math.floor(th / crop_pct)
        w, h = img.size
        if w <= h:
            nw, nh = s, int(s * h / w)
        else:
            nw, nh = int(s * w / h), s
    else:
        nh, nw = math.floor(th / crop_pct), math.floor(tw / crop_pct)
    r = img.resize((nw, nh), FILTERS[interp])
    top = int(round((nh - th) / 2.0))
    left = int(round((nw - tw) / 2.0))
    return r.crop((left, top, left + tw, top + th)), to_tensor_timm(r.crop((left, top, left + tw, top + th)), mean, std)


def check_torchvision(img, c, t):
    try:
        from torchvision import transforms as T
    except ImportError:
        print("torchvision not installed: timm arithmetic not cross-checked")
        return
    th, tw = c["size"]
    scale = math.floor(th / c["crop_pct"]) if th == tw else (math.floor(th / c["crop_pct"]), math.floor(tw / c["crop_pct"]))
    mode = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
            "lanczos": T.InterpolationMode.LANCZOS, "nearest": T.InterpolationMode.NEAREST}[c["interpolation"]]
    tf = T.Compose([T.Resize(scale, interpolation=mode), T.CenterCrop((th, tw)), T.ToTensor(),
                    T.Normalize(c["mean"], c["std"])])
    ref = tf(img).numpy()
    assert ref.shape == t.shape and (ref == t).all(), ("torchvision disagrees", c, np.abs(ref - t).max())
    print("torchvision %s agrees bit for bit:" % T.__name__, c)


def hf(img, size, resample, crop, rescale, mean, std):
    r = img.resize((size[1], size[0]), FILTERS[resample])
    if crop:
        top, left = (r.size[1] - crop[0]) // 2, (r.size[0] - crop[1]) // 2
        r = r.crop((left, top, left + crop[1], top + crop[0]))
    return r, to_tensor_hf(r, rescale, mean, std)


def pipe_record(kind, name, inp, params, t, mean, std):
    v = (t * np.array(std, np.float32)[:, None, None] + np.array(mean, np.float32)[:, None, None]) * 255
    q = np.round(v)
    assert np.abs(v - q).max() < 1e-3, (name, np.abs(v - q).max())
    img = Image.fromarray(q.transpose(1, 2, 0).astype(np.uint8), "RGB")
    return dict(kind=kind, input=inp, golden=save(img, name), params=params,
                shape=list(t.shape), head=[[float(x) for x in t[c, 0, :8]] for c in range(3)],
                mean_abs=[float(np.abs(t[c]).astype(np.float64).mean()) for c in range(3)])


def main():
    if "--no-inputs" not in sys.argv:
        make_inputs()
    os.makedirs(GOLD, exist_ok=True)
    for f in os.listdir(GOLD):
        os.remove(os.path.join(GOLD, f))
    recs = []
    # Lossless formats: Pillow's pixels are recorded as a SHA-256 of the RGB
    # bytes; lossy ones (JPEG, lossy WebP) as a golden image, the large
    # ones as a 200x200 crop only.
    import hashlib
    for f in sorted(os.listdir(IN)):
        im = Image.open(os.path.join(IN, f))
        rgb = im.convert("RGB")
        r = dict(kind="decode", input=f, mode=im.mode, w=im.size[0], h=im.size[1],
                 sha256=hashlib.sha256(rgb.tobytes()).hexdigest())
        if f.endswith(".jpg") or "lossy" in f:
            crop = None
            if im.size[0] * im.size[1] > 200 * 200:
                crop = [100, 50, 200, 200]
                rgb = rgb.crop((100, 50, 300, 250))
            r.update(crop=crop, golden=save(rgb, "decode_" + f.replace(".", "_") + ".png"))
        recs.append(r)
    # Resizes run on the decoded PNG photos (resize is tested apart from decoding).
    photos = ["chelsea.png", "astronaut.png", "coffee.png", "camera.png"]
    for p in photos:
        im = load(p)
        W, H = im.size
        cases = [((W // 3, H // 3), None),               # downscale 3x
                 ((131, 77), None),                       # non-square, odd
                 ((117, 93), (40, 30, 48, 40))]           # upscale a 48x40 crop by ~2.4x
        for fi, filt in enumerate(FILTERS):
            if filt in ("box", "hamming") and p != "chelsea.png" or filt == "nearest" and p not in ("chelsea.png", "camera.png"):
                continue  # keep the repository small: rarer filters on fewer photos
            for (w, h), crop in (cases[1:2] if filt in ("box", "hamming") else cases):
                src = im.crop((crop[0], crop[1], crop[0] + crop[2], crop[1] + crop[3])) if crop else im
                out = src.resize((w, h), FILTERS[filt])
                name = "resize_%s_%s_%dx%d.png" % (p.split(".")[0], filt, w, h)
                recs.append(dict(kind="resize", input=p, filter=filt, w=w, h=h, crop=crop, golden=save(out, name)))
    IM, IS, H5 = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], [0.5, 0.5, 0.5]
    hfcases = [("chelsea.png", dict(size=[224, 224], resample="bilinear", crop=None, rescale=1 / 255, mean=H5, std=H5)),
               ("rocket.jpg", dict(size=[224, 224], resample="bilinear", crop=None, rescale=1 / 255, mean=H5, std=H5)),
               ("astronaut.png", dict(size=[256, 256], resample="bicubic", crop=[224, 224], rescale=1 / 255, mean=IM, std=IS))]
    for i, (p, c) in enumerate(hfcases):
        _, t = hf(load(p), c["size"], c["resample"], c["crop"], c["rescale"], c["mean"], c["std"])
        recs.append(pipe_record("hf", "pipe_hf_%d_%s.png" % (i, p.split(".")[0]), p, c, t, c["mean"], c["std"]))
    timmcases = [("chelsea.png", dict(size=[224, 224], crop_pct=0.9, interpolation="bicubic", mean=H5, std=H5)),
                 ("coffee.png", dict(size=[192, 192], crop_pct=0.875, interpolation="bilinear", mean=IM, std=IS)),
                 ("camera.png", dict(size=[160, 160], crop_pct=0.95, interpolation="bicubic", mean=IM, std=IS)),
                 ("astronaut.png", dict(size=[128, 176], crop_pct=0.9, interpolation="lanczos", mean=H5, std=H5)),
                 ("chelsea420.jpg", dict(size=[224, 224], crop_pct=0.875, interpolation="bicubic", mean=IM, std=IS))]
    for i, (p, c) in enumerate(timmcases):
        _, t = timm_eval(load(p), c["size"], c["crop_pct"], c["interpolation"], c["mean"], c["std"])
        check_torchvision(load(p), c, t)
        recs.append(pipe_record("timm", "pipe_timm_%d_%s.png" % (i, p.split(".")[0]), p, c, t, c["mean"], c["std"]))
    import PIL
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(dict(pillow=PIL.__version__, records=recs), f, indent=1)
    print(len(recs), "goldens")


if __name__ == "__main__":
    main()
