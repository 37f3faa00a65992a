<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de" sourcelanguage="en">
    <context>
        <name>glnet</name>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="113" />
            <source>Parameters</source>
            <translation>Parameter</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="113" />
            <source>Outputs</source>
            <translation>Ausgaben</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="119" />
            <source>More in the README: {link}</source>
            <translation>Mehr dazu im README: {link}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="140" />
            <source>Window {done} of {total} done</source>
            <translation>Fenster {done} von {total} fertig</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="156" />
            <source>{what}: the raster layer cannot be opened</source>
            <translation>{what}: Der Rasterlayer lässt sich nicht öffnen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="159" />
            <source>{what}: glnet reads raster files through GDAL; layer '{name}' comes from the '{provider}' data provider. Save it as a GeoTIFF first.</source>
            <translation>{what}: glnet liest Rasterdateien über GDAL; der Layer '{name}' stammt vom Datenanbieter '{provider}'. Speichern Sie ihn zuerst als GeoTIFF.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="215" />
            <source>Land-cover segmentation</source>
            <translation>Landbedeckungs-Segmentierung</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="216" />
            <source>Land-cover analysis</source>
            <translation>Landbedeckungs-Analyse</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="217" />
            <source>Models</source>
            <translation>Modelle</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="295" />
            <source>Cancelled; no output was written.</source>
            <translation>Abgebrochen; es wurde keine Ausgabe geschrieben.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="301" />
            <source>glnet cannot run: the Python module '{module}' is missing in QGIS's Python. See the README for installing the plugin's dependencies.</source>
            <translation>glnet kann nicht laufen: Das Python-Modul '{module}' fehlt im Python von QGIS. Wie die Abhängigkeiten des Plugins installiert werden, steht im README.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="31" />
            <source>Class table (deepglobe, inria, a class count or a JSON file; empty: the mask's class names)</source>
            <translation>Klassentabelle (deepglobe, inria, eine Klassenanzahl oder eine JSON-Datei; leer: die Klassennamen der Maske)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="45" />
            <source>{what}: glnet reads vector files through OGR; layer '{name}' comes from the '{provider}' data provider. Save it as a GeoPackage first.</source>
            <translation>{what}: glnet liest Vektordateien über OGR; der Layer '{name}' stammt vom Datenanbieter '{provider}'. Speichern Sie ihn zuerst als GeoPackage.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="69" />
            <source>Evaluate a land-cover mask</source>
            <translation>Landbedeckungsmaske bewerten</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="72" />
            <source>Per-class IoU, precision, recall, F1, mIoU and the confusion matrix against a reference.</source>
            <translation>IoU, Präzision, Trefferquote und F1 je Klasse, mIoU und die Konfusionsmatrix gegenüber einer Referenz.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="75" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="97" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="114" />
            <source>Predicted land-cover mask</source>
            <translation>Vorhergesagte Landbedeckungsmaske</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="76" />
            <source>Reference (class raster, colour mask or vector layer)</source>
            <translation>Referenz (Klassenraster, Farbmaske oder Vektorlayer)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="78" />
            <source>Class field of a vector reference (class ids or names)</source>
            <translation>Klassenfeld einer Vektorreferenz (Klassen-IDs oder -namen)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="82" />
            <source>Classes to leave out of the scores (names, comma-separated)</source>
            <translation>Klassen, die nicht bewertet werden (Namen, durch Kommas getrennt)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="84" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="105" />
            <source>Scores (JSON)</source>
            <translation>Bewertung (JSON)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="84" />
            <source>JSON files</source>
            <translation>JSON-Dateien</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="86" />
            <source>mIoU</source>
            <translation>mIoU</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="87" />
            <source>Overall accuracy</source>
            <translation>Gesamtgenauigkeit</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="88" />
            <source>Pixels evaluated</source>
            <translation>Bewertete Pixel</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="92" />
            <source>Compares a predicted class mask with a reference, as the command 'glnet evaluate' does, and reports per class IoU = TP / (TP + FP + FN), precision, recall and F1, the mIoU (mean IoU over the classes that are not ignored and occur in either), the overall accuracy and the confusion matrix (rows: reference, columns: prediction) in the log. Pixels that are nodata in either are not counted.</source>
            <translation>Vergleicht eine vorhergesagte Klassenmaske mit einer Referenz, wie es der Befehl 'glnet evaluate' tut, und gibt im Protokoll je Klasse IoU = TP / (TP + FP + FN), Präzision, Trefferquote und F1 aus, dazu die mIoU (mittlere IoU über die Klassen, die nicht ausgeschlossen sind und in einer der beiden vorkommen), die Gesamtgenauigkeit und die Konfusionsmatrix (Zeilen: Referenz, Spalten: Vorhersage). Pixel, die in einer der beiden NoData sind, zählen nicht.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="97" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="64" />
            <source>A class mask (one band of class ids, 255 = nodata).</source>
            <translation>Eine Klassenmaske (ein Kanal mit Klassen-IDs, 255 = NoData).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="98" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="120" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="122" />
            <source>Reference</source>
            <translation>Referenz</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="98" />
            <source>A class raster (values decoded through the class table), an RGB colour mask (DeepGlobe style), or a polygon layer, rasterized at pixel centres. A reference on another grid is resampled onto the mask's (nearest neighbour).</source>
            <translation>Ein Klassenraster (Werte über die Klassentabelle gelesen), eine RGB-Farbmaske (wie bei DeepGlobe) oder ein Polygonlayer, an den Pixelmitten gerastert. Eine Referenz auf einem anderen Raster wird auf das der Maske umgerechnet (nächster Nachbar).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="101" />
            <source>Class field</source>
            <translation>Klassenfeld</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="101" />
            <source>For a vector reference: the attribute holding class ids or class names.</source>
            <translation>Bei einer Vektorreferenz: das Attribut mit Klassen-IDs oder Klassennamen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="102" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="67" />
            <source>Class table</source>
            <translation>Klassentabelle</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="102" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="67" />
            <source>deepglobe, inria, a class count or a JSON class table; by default the class names glnet stored with the mask.</source>
            <translation>deepglobe, inria, eine Klassenanzahl oder eine JSON-Klassentabelle; standardmäßig die Klassennamen, die glnet mit der Maske gespeichert hat.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="104" />
            <source>Classes to leave out</source>
            <translation>Nicht bewertete Klassen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="104" />
            <source>Class names not scored, besides those the table marks as ignored.</source>
            <translation>Klassennamen, die nicht bewertet werden, zusätzlich zu denen, die die Tabelle als ignoriert kennzeichnet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="105" />
            <source>Optional: every figure and the confusion matrix as JSON.</source>
            <translation>Optional: alle Kennzahlen und die Konfusionsmatrix als JSON.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="107" />
            <source>mIoU, overall accuracy, pixels evaluated</source>
            <translation>mIoU, Gesamtgenauigkeit, bewertete Pixel</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="107" />
            <source>Numbers for use in models.</source>
            <translation>Zahlen zur Weiterverwendung in Modellen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="117" />
            <source>Reference: the layer cannot be opened</source>
            <translation>Referenz: Der Layer lässt sich nicht öffnen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="135" />
            <source>{n} reference pixels hold a value or colour that is not in the class table; they were counted as nodata</source>
            <translation>{n} Referenzpixel haben einen Wert oder eine Farbe, die nicht in der Klassentabelle steht; sie wurden als NoData gezählt</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="36" />
            <source>Model bundle information</source>
            <translation>Informationen zum Modellpaket</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="39" />
            <source>Checks a GLNet model bundle and describes its model, classes and graphs.</source>
            <translation>Prüft ein GLNet-Modellpaket und beschreibt sein Modell, seine Klassen und Graphen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="43" />
            <source>Description</source>
            <translation>Beschreibung</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="44" />
            <source>Model name</source>
            <translation>Modellname</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="45" />
            <source>Class names (comma-separated, in id order)</source>
            <translation>Klassennamen (durch Kommas getrennt, in ID-Reihenfolge)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="46" />
            <source>Number of classes</source>
            <translation>Anzahl der Klassen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="47" />
            <source>Inference modes (comma-separated)</source>
            <translation>Inferenzmodi (durch Kommas getrennt)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="48" />
            <source>Ground resolution of the model (m/px; empty: not set)</source>
            <translation>Bodenauflösung des Modells (m/px; leer: nicht angegeben)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="52" />
            <source>Checks a GLNet model bundle, as the command 'glnet info' does, and writes to the log what it holds: the model and its configuration, the classes with their colours, the window geometry, the input bands and normalisation, the inference modes and precision, each ONNX graph with its size, where the model came from and how well its export was verified. A damaged bundle (a graph file changed, truncated or missing; an invalid manifest) is an error.</source>
            <translation>Prüft ein GLNet-Modellpaket, wie es der Befehl 'glnet info' tut, und schreibt ins Protokoll, was es enthält: das Modell und seine Konfiguration, die Klassen mit ihren Farben, die Fenstergeometrie, die Eingangskanäle und die Normalisierung, die Inferenzmodi und die Genauigkeit, jeden ONNX-Graphen mit seiner Größe, die Herkunft des Modells und wie gut sein Export überprüft wurde. Ein beschädigtes Paket (eine Graphdatei verändert, abgeschnitten oder fehlend; ein ungültiges Manifest) ist ein Fehler.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="57" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="124" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="70" />
            <source>Model bundle</source>
            <translation>Modellpaket</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="57" />
            <source>The manifest.json inside a NAME.glnet folder, or a zip of such a folder.</source>
            <translation>Die manifest.json in einem Ordner NAME.glnet oder ein Zip eines solchen Ordners.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="58" />
            <source>Description, model name, classes, modes, resolution</source>
            <translation>Beschreibung, Modellname, Klassen, Modi, Auflösung</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="58" />
            <source>Texts and numbers for use in models.</source>
            <translation>Texte und Zahlen zur Weiterverwendung in Modellen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="51" />
            <source>Model bundle (a NAME.glnet folder's manifest.json, or a zip)</source>
            <translation>Modellpaket (die manifest.json eines Ordners NAME.glnet oder ein Zip)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="54" />
            <source>All files</source>
            <translation>Alle Dateien</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="54" />
            <source>GLNet model bundles</source>
            <translation>GLNet-Modellpakete</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="81" />
            <source>Segment land cover (GLNet)</source>
            <translation>Landbedeckung segmentieren (GLNet)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="84" />
            <source>Segments a raster of any size into land-cover classes with a GLNet model bundle.</source>
            <translation>Segmentiert ein Raster beliebiger Größe mit einem GLNet-Modellpaket in Landbedeckungsklassen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="87" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="122" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="204" />
            <source>Input raster</source>
            <translation>Eingaberaster</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="90" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="126" />
            <source>Inference mode</source>
            <translation>Inferenzmodus</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="92" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="128" />
            <source>Device</source>
            <translation>Gerät</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="94" />
            <source>Bands for the model's inputs (red, green, blue), in that order</source>
            <translation>Kanäle für die Eingänge des Modells (Rot, Grün, Blau), in dieser Reihenfolge</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="97" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="53" />
            <source>Minimum mapping unit (square metres; 0: off)</source>
            <translation>Mindestkartierfläche (Quadratmeter; 0: aus)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="99" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="55" />
            <source>Simplify polygons (tolerance in metres; 0: exact pixel edges)</source>
            <translation>Polygone vereinfachen (Toleranz in Metern; 0: exakte Pixelkanten)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="101" />
            <source>Dask scheduler (tcp://HOST:PORT or a scheduler file; empty: run in QGIS)</source>
            <translation>Dask-Scheduler (tcp://HOST:PORT oder eine Scheduler-Datei; leer: in QGIS rechnen)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="105" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="145" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="49" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="68" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="86" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="48" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="64" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="78" />
            <source>Land-cover mask</source>
            <translation>Landbedeckungsmaske</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="107" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="147" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="57" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="77" />
            <source>Land-cover polygons</source>
            <translation>Landbedeckungspolygone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="110" />
            <source>Confidence (top class probability, percent)</source>
            <translation>Konfidenz (Wahrscheinlichkeit der wahrscheinlichsten Klasse, Prozent)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="112" />
            <source>onnxruntime execution providers used</source>
            <translation>Verwendete onnxruntime-Ausführungsanbieter</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="116" />
            <source>Segments a raster of any size into land-cover classes with a GLNet model bundle, as the command 'glnet segment' does. The raster is cut into overlapping GLNet windows; in each, the global branch sees the whole window downsampled and the local branch full-resolution patches. The mask is written on the input's grid (same CRS, extent and pixel size) with the classes' colours and names; nodata and transparent pixels stay nodata (255).</source>
            <translation>Segmentiert ein Raster beliebiger Größe mit einem GLNet-Modellpaket in Landbedeckungsklassen, wie es der Befehl 'glnet segment' tut. Das Raster wird in überlappende GLNet-Fenster zerlegt; in jedem sieht der globale Zweig das ganze Fenster verkleinert und der lokale Zweig Ausschnitte in voller Auflösung. Die Maske wird auf dem Raster der Eingabe geschrieben (gleiches KBS, gleiche Ausdehnung und Pixelgröße), mit den Farben und Namen der Klassen; NoData- und transparente Pixel bleiben NoData (255).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="122" />
            <source>Any raster GDAL reads, of any size: 8-bit, 16-bit or float bands. Three bands, or three and alpha, are used as red, green, blue.</source>
            <translation>Jedes Raster, das GDAL liest, in beliebiger Größe: 8-Bit-, 16-Bit- oder Gleitkommakanäle. Drei Kanäle, oder drei und Alpha, werden als Rot, Grün, Blau verwendet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="124" />
            <source>An exported GLNet model: the manifest.json inside a NAME.glnet folder, or a zip of such a folder (see 'glnet export').</source>
            <translation>Ein exportiertes GLNet-Modell: die manifest.json in einem Ordner NAME.glnet oder ein Zip eines solchen Ordners (siehe 'glnet export').</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="126" />
            <source>full: GLNet with its local-to-global pass (best); g2l: global-to-local only (faster).</source>
            <translation>full: GLNet mit dem Durchgang vom Lokalen zum Globalen (am besten); g2l: nur vom Globalen zum Lokalen (schneller).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="128" />
            <source>auto: CUDA when onnxruntime-gpu and a GPU work, else the CPU; cpu; cuda (an error without a working CUDA). The log names the onnxruntime providers that ran.</source>
            <translation>auto: CUDA, wenn onnxruntime-gpu und eine GPU funktionieren, sonst die CPU; cpu; cuda (ein Fehler ohne funktionierendes CUDA). Das Protokoll nennt die onnxruntime-Anbieter, die liefen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="131" />
            <source>Bands</source>
            <translation>Kanäle</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="131" />
            <source>The raster bands (1-based) to feed the model's red, green and blue inputs, in that order; needed when the raster has another band count.</source>
            <translation>Die Rasterkanäle (ab 1 gezählt) für den roten, grünen und blauen Eingang des Modells, in dieser Reihenfolge; nötig, wenn das Raster eine andere Kanalanzahl hat.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="133" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="73" />
            <source>Minimum mapping unit</source>
            <translation>Mindestkartierfläche</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="133" />
            <source>Regions smaller than this many square metres are merged into their neighbours, in the mask and the polygons alike.</source>
            <translation>Gebiete, die kleiner als so viele Quadratmeter sind, werden mit ihren Nachbarn verschmolzen, in der Maske wie in den Polygonen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="135" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="75" />
            <source>Simplify polygons</source>
            <translation>Polygone vereinfachen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="135" />
            <source>Douglas-Peucker tolerance in metres for the polygons' shared boundaries (no gaps or overlaps appear).</source>
            <translation>Douglas-Peucker-Toleranz in Metern für die gemeinsamen Grenzen der Polygone (es entstehen weder Lücken noch Überlappungen).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="137" />
            <source>Dask scheduler</source>
            <translation>Dask-Scheduler</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="137" />
            <source>Advanced. Empty: the windows run here, in QGIS. tcp://HOST:PORT or the path of a scheduler file (dask scheduler --scheduler-file): the windows run as tasks on that Dask cluster's workers, which must reach the input raster and the model bundle at the same paths and run glnet with Dask {version}; QGIS still writes the outputs, the same bytes as a run in QGIS. local:N is not offered inside QGIS (use the command line). Dask is installed on request: the desktop offers it when this is set.</source>
            <translation>Erweitert. Leer: die Fenster werden hier, in QGIS, gerechnet. tcp://HOST:PORT oder der Pfad einer Scheduler-Datei (dask scheduler --scheduler-file): die Fenster laufen als Aufgaben auf den Workern dieses Dask-Clusters, die das Eingaberaster und das Modellpaket unter denselben Pfaden erreichen und glnet mit Dask {version} ausführen müssen; QGIS schreibt die Ausgaben weiterhin selbst, dieselben Bytes wie bei einem Lauf in QGIS. local:N wird in QGIS nicht angeboten (dafür gibt es die Kommandozeile). Dask wird auf Wunsch installiert: die Desktop-Anwendung bietet es an, wenn dieser Parameter gesetzt ist.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="145" />
            <source>GeoTIFF of class ids (255 = nodata), styled with the classes' colours and names.</source>
            <translation>GeoTIFF mit Klassen-IDs (255 = NoData), mit den Farben und Namen der Klassen gestaltet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="147" />
            <source>Optional: the mask as polygons with class_id, class_name, area_m2 (and confidence), styled by class.</source>
            <translation>Optional: die Maske als Polygone mit class_id, class_name, area_m2 (und confidence), nach Klasse gestaltet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="149" />
            <source>Confidence</source>
            <translation>Konfidenz</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="149" />
            <source>Optional: GeoTIFF of the top class probability in percent (0-100, 255 = nodata).</source>
            <translation>Optional: GeoTIFF der Wahrscheinlichkeit der wahrscheinlichsten Klasse in Prozent (0-100, 255 = NoData).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="190" />
            <source>{label}: local:N is not offered inside QGIS (it would start worker processes from the QGIS program); start 'dask scheduler' and 'dask worker' and give the scheduler's address, or leave it empty to run in QGIS</source>
            <translation>{label}: local:N wird in QGIS nicht angeboten (es würde Worker-Prozesse aus dem QGIS-Programm starten); starten Sie 'dask scheduler' und 'dask worker' und geben Sie die Adresse des Schedulers an, oder lassen Sie das Feld leer, um in QGIS zu rechnen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="231" />
            <source>Done: {windows} window(s), {patches} patches in {seconds:.1f} s; onnxruntime providers: {providers}</source>
            <translation>Fertig: {windows} Fenster, {patches} Ausschnitte in {seconds:.1f} s; onnxruntime-Anbieter: {providers}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="43" />
            <source>Land-cover mask to polygons</source>
            <translation>Landbedeckungsmaske in Polygone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="46" />
            <source>Turns a class mask into polygons, one per connected region of a class.</source>
            <translation>Wandelt eine Klassenmaske in Polygone um, eines je zusammenhängendem Gebiet einer Klasse.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="51" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="71" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="89" />
            <source>Confidence raster</source>
            <translation>Konfidenzraster</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="58" />
            <source>Number of polygons</source>
            <translation>Anzahl der Polygone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="62" />
            <source>Turns a class mask (one band of class ids, 255 = nodata, as 'Segment land cover' writes it) into polygons that follow the pixel edges exactly, as the command 'glnet vectorize' does: one polygon per connected region of a class, holes kept, nodata left out, in the mask's CRS. Attributes: class_id, class_name, area_m2 (on the ellipsoid for geographic and Mercator CRSs) and, with a confidence raster, confidence. The layer is styled by class.</source>
            <translation>Wandelt eine Klassenmaske (ein Kanal mit Klassen-IDs, 255 = NoData, wie 'Landbedeckung segmentieren' sie schreibt) in Polygone um, die genau den Pixelkanten folgen, wie es der Befehl 'glnet vectorize' tut: ein Polygon je zusammenhängendem Gebiet einer Klasse, mit Löchern, ohne NoData, im KBS der Maske. Attribute: class_id, class_name, area_m2 (auf dem Ellipsoid bei geographischen und Mercator-KBS) und, mit einem Konfidenzraster, confidence. Der Layer wird nach Klasse gestaltet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="68" />
            <source>A class mask GeoTIFF; class names and colours come from the mask (glnet writes them) unless a model bundle is given.</source>
            <translation>Ein GeoTIFF mit Klassenmaske; Klassennamen und Farben stammen aus der Maske (glnet schreibt sie hinein), außer es ist ein Modellpaket angegeben.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="70" />
            <source>Optional: take the class names and colours from this bundle.</source>
            <translation>Optional: die Klassennamen und Farben aus diesem Paket nehmen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="71" />
            <source>Optional: the confidence GeoTIFF of the same run; adds each polygon's mean confidence.</source>
            <translation>Optional: das Konfidenz-GeoTIFF desselben Laufs; ergänzt die mittlere Konfidenz jedes Polygons.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="73" />
            <source>Regions smaller than this many square metres are merged into their largest neighbour first (no gaps appear).</source>
            <translation>Gebiete, die kleiner als so viele Quadratmeter sind, werden zuerst mit ihrem größten Nachbarn verschmolzen (es entstehen keine Lücken).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="75" />
            <source>Douglas-Peucker tolerance in metres, applied to the shared boundaries so neighbours keep meeting without gaps or overlaps.</source>
            <translation>Douglas-Peucker-Toleranz in Metern, angewandt auf die gemeinsamen Grenzen, damit Nachbarn ohne Lücken oder Überlappungen aneinanderstoßen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="77" />
            <source>GeoPackage (with its default style), GeoJSON, FlatGeobuf or Shapefile.</source>
            <translation>GeoPackage (mit seinem Standardstil), GeoJSON, FlatGeobuf oder Shapefile.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="108" />
            <source>{count} polygons in {classes} classes written to {path}</source>
            <translation>{count} Polygone in {classes} Klassen nach {path} geschrieben</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="42" />
            <source>Land-cover areas per zone</source>
            <translation>Landbedeckungsflächen je Zone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="45" />
            <source>Ground area and share of every land-cover class inside each zone polygon.</source>
            <translation>Bodenfläche und Anteil jeder Landbedeckungsklasse in jedem Zonenpolygon.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="50" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="65" />
            <source>Zones</source>
            <translation>Zonen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="52" />
            <source>Zone field (identifies each zone)</source>
            <translation>Zonenfeld (kennzeichnet jede Zone)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="55" />
            <source>Class areas per zone (GeoPackage or CSV)</source>
            <translation>Klassenflächen je Zone (GeoPackage oder CSV)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="59" />
            <source>Measures, for each zone polygon, the ground area of every class of a class mask inside it, as the command 'glnet stats' does. A pixel belongs to a zone when its centre lies inside it; a pixel in overlapping zones counts in each. Areas are planar in projected CRSs and on the ellipsoid for geographic and Mercator CRSs; zones in another CRS are reprojected to the mask's.</source>
            <translation>Misst für jedes Zonenpolygon die Bodenfläche jeder Klasse einer Klassenmaske darin, wie es der Befehl 'glnet stats' tut. Ein Pixel gehört zu einer Zone, wenn seine Mitte darin liegt; ein Pixel in überlappenden Zonen zählt in jeder. Flächen sind eben in projizierten KBS und auf dem Ellipsoid in geographischen und Mercator-KBS; Zonen in einem anderen KBS werden in das der Maske umprojiziert.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="65" />
            <source>Polygons (districts, parcels...).</source>
            <translation>Polygone (Stadtteile, Flurstücke ...).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="66" />
            <source>Zone field</source>
            <translation>Zonenfeld</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="66" />
            <source>The attribute that names each zone; it is the first output column.</source>
            <translation>Das Attribut, das jede Zone benennt; es ist die erste Ausgabespalte.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="69" />
            <source>Class areas per zone</source>
            <translation>Klassenflächen je Zone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="69" />
            <source>One row per zone: the zone field, area_m2 (its valid area), and per class &lt;class&gt;_m2 and &lt;class&gt;_share (0-1). A .gpkg keeps the zones' geometries; a .csv is a table.</source>
            <translation>Eine Zeile je Zone: das Zonenfeld, area_m2 (ihre gültige Fläche) und je Klasse &lt;class&gt;_m2 und &lt;class&gt;_share (0-1). Ein .gpkg behält die Geometrien der Zonen; eine .csv ist eine Tabelle.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="91" />
            <source>{zones} zones x {classes} classes written to {path}</source>
            <translation>{zones} Zonen x {classes} Klassen nach {path} geschrieben</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="52" />
            <location filename="../glnet_plugin/dependency_dialog.py" line="55" />
            <location filename="../glnet_plugin/dependency_dialog.py" line="82" />
            <location filename="../glnet_plugin/dependency_dialog.py" line="118" />
            <location filename="../glnet_plugin/dependency_dialog.py" line="122" />
            <location filename="../glnet_plugin/plugin.py" line="78" />
            <location filename="../glnet_plugin/provider.py" line="31" />
            <source>GLNet land cover</source>
            <translation>GLNet-Landbedeckung</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="52" />
            <source>Python packages that glnet needs are missing.</source>
            <translation>Python-Pakete, die glnet braucht, fehlen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="54" />
            <source>Details</source>
            <translation>Details</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="58" />
            <source>Install onnxruntime</source>
            <translation>onnxruntime installieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="83" />
            <source>Sending a run to a Dask scheduler needs Dask, which is not installed.</source>
            <translation>Ein Lauf auf einem Dask-Scheduler braucht Dask, das nicht installiert ist.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="84" />
            <source>Install Dask</source>
            <translation>Dask installieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="101" />
            <source>Install {what}</source>
            <translation>{what} installieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="102" />
            <source>glnet will run this command, which downloads {what} from PyPI into a folder used only by this plugin (QGIS's own packages, numpy included, are not touched):

{command}

Continue?</source>
            <translation>glnet führt diesen Befehl aus, der {what} von PyPI in einen Ordner lädt, den nur dieses Plugin verwendet (die Pakete von QGIS, auch numpy, bleiben unberührt):

{command}

Fortfahren?</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="118" />
            <source>{what} is installed; glnet is ready.</source>
            <translation>{what} ist installiert; glnet ist bereit.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="122" />
            <source>Installing {what} failed: {error}</source>
            <translation>Die Installation von {what} ist fehlgeschlagen: {error}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="125" />
            <source>Installing {what} for glnet</source>
            <translation>{what} für glnet installieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/plugin.py" line="79" />
            <source>Segment land cover…</source>
            <translation>Landbedeckung segmentieren …</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/plugin.py" line="81" />
            <source>Segment a raster into land-cover classes with a GLNet model</source>
            <translation>Ein Raster mit einem GLNet-Modell in Landbedeckungsklassen segmentieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/provider.py" line="34" />
            <source>GLNet land-cover segmentation (collaborative global-local networks)</source>
            <translation>GLNet-Landbedeckungssegmentierung (kollaborative global-lokale Netze)</translation>
        </message>
        <message>
            <source>glnet will run this command, which downloads onnxruntime from PyPI into a folder used only by this plugin (QGIS's own packages, numpy included, are not touched):

{command}

Continue?</source>
            <translation type="vanished">glnet führt diesen Befehl aus, der onnxruntime von PyPI in einen Ordner lädt, den nur dieses Plugin verwendet (die Pakete von QGIS, auch numpy, bleiben unberührt):

{command}

Fortfahren?</translation>
        </message>
        <message>
            <source>onnxruntime is installed; glnet is ready.</source>
            <translation type="vanished">onnxruntime ist installiert; glnet ist bereit.</translation>
        </message>
        <message>
            <source>Installing onnxruntime failed: {error}</source>
            <translation type="vanished">Die Installation von onnxruntime ist fehlgeschlagen: {error}</translation>
        </message>
        <message>
            <source>Installing onnxruntime for glnet</source>
            <translation type="vanished">onnxruntime für glnet installieren</translation>
        </message>
    </context>
</TS>
