package dev.embedlite.demo

import android.os.Bundle
import android.view.inputmethod.EditorInfo
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.ListView
import android.widget.TextView
import android.widget.Toast
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** Save notes, search them by meaning; the model and the store run on a background dispatcher. */
class MainActivity : AppCompatActivity() {
    private var notes: NotesRepository? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        val status = findViewById<TextView>(R.id.status)
        val note = findViewById<EditText>(R.id.note)
        val query = findViewById<EditText>(R.id.query)
        val add = findViewById<Button>(R.id.add)
        val search = findViewById<Button>(R.id.search)
        val results = ArrayAdapter<String>(this, android.R.layout.simple_list_item_1)
        findViewById<ListView>(R.id.results).adapter = results

        lifecycleScope.launch {
            val opened = withContext(Dispatchers.Default) { runCatching { NotesRepository.open(applicationContext) } }
            opened.onFailure { status.text = "Could not load the model: ${it.message}" }
            val repo = opened.getOrNull() ?: return@launch
            notes = repo
            status.text = repo.status
            add.isEnabled = true
            search.isEnabled = true
        }

        add.setOnClickListener {
            val repo = notes ?: return@setOnClickListener
            val text = note.text.toString().trim()
            if (text.isEmpty()) return@setOnClickListener
            lifecycleScope.launch {
                withContext(Dispatchers.Default) { repo.add(text) }
                note.text.clear()
                status.text = repo.status
                Toast.makeText(this@MainActivity, "Saved", Toast.LENGTH_SHORT).show()
            }
        }

        fun runSearch() {
            val repo = notes ?: return
            val text = query.text.toString().trim()
            if (text.isEmpty()) return
            lifecycleScope.launch {
                val started = System.nanoTime()
                val hits = withContext(Dispatchers.Default) { repo.search(text, k = 10) }
                val ms = (System.nanoTime() - started) / 1_000_000
                results.clear()
                results.addAll(hits.map { "%.3f  %s".format(it.score, it.text) })
                status.text = "${repo.status} · search $ms ms"
            }
        }
        search.setOnClickListener { runSearch() }
        query.setOnEditorActionListener { _, action, _ -> (action == EditorInfo.IME_ACTION_SEARCH).also { if (it) runSearch() } }
    }

    override fun onDestroy() {
        notes?.close()
        super.onDestroy()
    }
}
